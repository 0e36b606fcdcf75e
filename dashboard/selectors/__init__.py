"""Metric queries for the dashboard and the metrics API: one aggregate pass per table, no N+1."""

from contextlib import contextmanager

from django.conf import settings
from django.db import connection, transaction

from dashboard.selectors.agents import agent_performance
from dashboard.selectors.funnel import funnel_build, funnel_handoff_counts, handoff_figures, lead_figures
from dashboard.selectors.health import handoff_health, teams_known
from dashboard.selectors.outcomes import conversion_collect
from dashboard.selectors.period import Period, percentile

__all__ = ["Period", "agent_performance", "funnel_collect", "metrics_collect", "percentile", "teams_known"]


@contextmanager
def _reading_aggregates():
    """On PostgreSQL, room to sort a month of leads in memory (the default 4 MB spills to disk)."""
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL work_mem = '32MB'")
        yield


def metrics_collect(period: Period, *, what_if: int | None = None) -> dict:
    """Every figure of the dashboard for a period (`what_if`: a threshold to estimate); the metrics API returns
    exactly this."""
    with _reading_aggregates():
        return _metrics(period, what_if or settings.HANDOFF_SCORE_THRESHOLD)


def _metrics(period: Period, what_if: int) -> dict:
    leads = lead_figures(period)
    handoffs = handoff_figures(period)
    threshold = settings.HANDOFF_SCORE_THRESHOLD
    return {
        "period": {"from": period.first_day, "to": period.last_day, "team_id": period.team_id},
        "threshold": threshold,
        "conversion": conversion_collect(period, leads["totals"]["by_score"], threshold=threshold, candidate=what_if),
        "leads": leads["totals"],
        "funnel": funnel_build(leads["totals"], funnel_handoff_counts(period)),
        "agents": agent_performance(period),
        "health": handoff_health(period, retries=handoffs["totals"]["retries"]),
        "daily": [
            {"day": day, "leads": leads["by_day"].get(day, 0), "handoffs": handoffs["by_day"].get(day, 0)}
            for day in period.days
        ],
    }


def funnel_collect(period: Period) -> list[dict]:
    return funnel_build(lead_figures(period)["totals"], funnel_handoff_counts(period))
