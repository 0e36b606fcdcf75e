"""Metric queries for the dashboard and the metrics API: one aggregate pass per table, no N+1."""

import math
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from django.conf import settings
from django.db.models import Count, Exists, Min, OuterRef, Q, QuerySet, Sum
from django.db.models.functions import TruncDate
from django.utils import timezone

from handoff.business_hours import business_hours_parse, business_seconds
from handoff.models import ChatwootCall, Handoff, HandoffEvent, RoutingRule
from leads.models import Lead

STATUSES = tuple(Lead.Status.values)
SCORES = tuple(range(1, 11))
FAILED_SHOWN = 10


@dataclass(frozen=True)
class Period:
    """Whole days in TIME_ZONE, both ends included, and an optional Chatwoot team."""

    first_day: date
    last_day: date
    team_id: int | None = None

    @property
    def start(self) -> datetime:
        return timezone.make_aware(datetime.combine(self.first_day, time.min))

    @property
    def end(self) -> datetime:
        """Exclusive: midnight after the last day, so a lead at 23:59:59.9 local time still counts."""
        return timezone.make_aware(datetime.combine(self.last_day + timedelta(days=1), time.min))

    @property
    def days(self) -> list[date]:
        return [self.first_day + timedelta(days=n) for n in range((self.last_day - self.first_day).days + 1)]


def ratio(part: float, whole: float) -> float | None:
    """A rate, or None when there is nothing to divide by (shown as "—", never a ZeroDivisionError)."""
    return round(part / whole, 4) if whole else None


def percentile(values: list[float], fraction: float) -> float | None:
    """Linear interpolation between the closest ranks, as PostgreSQL's percentile_cont."""
    if not values:
        return None
    ordered = sorted(values)
    rank = (len(ordered) - 1) * fraction
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def metrics_collect(period: Period) -> dict:
    """Every figure of the dashboard for a period; the metrics API returns exactly this."""
    leads = lead_figures(period)
    handoffs = handoff_figures(period)
    return {
        "period": {"from": period.first_day, "to": period.last_day, "team_id": period.team_id},
        "threshold": settings.HANDOFF_SCORE_THRESHOLD,
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


def _leads_in(period: Period) -> QuerySet[Lead]:
    leads = Lead.objects.filter(created_at__gte=period.start, created_at__lt=period.end)
    if period.team_id is not None:
        leads = leads.filter(Exists(Handoff.objects.filter(lead=OuterRef("pk"), team_id=period.team_id)))
    return leads


def _handoffs_in(period: Period) -> QuerySet[Handoff]:
    handoffs = Handoff.objects.filter(created_at__gte=period.start, created_at__lt=period.end)
    if period.team_id is not None:
        handoffs = handoffs.filter(team_id=period.team_id)
    return handoffs


def lead_figures(period: Period) -> dict:
    """Status counts, qualification and the score histogram in one pass, grouped by local day.

    The totals are the sums of the days, so one scan of the date range serves the cards, the histogram
    and the leads-per-day chart (conditional aggregation: COUNT(*) FILTER (WHERE ...) on PostgreSQL).
    """
    threshold = settings.HANDOFF_SCORE_THRESHOLD
    counts = {
        "total": Count("pk"),
        "qualified": Count("pk", filter=Q(qualification_score__gte=threshold)),
        "unscored": Count("pk", filter=Q(qualification_score__isnull=True)),
        **{f"status_{status}": Count("pk", filter=Q(status=status)) for status in STATUSES},
        **{f"score_{score}": Count("pk", filter=Q(qualification_score=score)) for score in SCORES},
    }
    rows = list(
        _leads_in(period)
        .annotate(day=TruncDate("created_at", tzinfo=timezone.get_current_timezone()))
        .values("day")
        .annotate(**counts)
        .order_by("day")
    )
    summed = {name: sum(row[name] for row in rows) for name in counts}
    totals = {
        "total": summed["total"],
        "qualified": summed["qualified"],
        "qualification_rate": ratio(summed["qualified"], summed["total"]),
        "unscored": summed["unscored"],
        "by_status": {status: summed[f"status_{status}"] for status in STATUSES},
        "by_score": {str(score): summed[f"score_{score}"] for score in SCORES},
    }
    return {"totals": totals, "by_day": {row["day"]: row["total"] for row in rows}}


def handoff_figures(period: Period) -> dict:
    """Handoffs created in the period, per local day, and the retries they needed."""
    rows = list(
        _handoffs_in(period)
        .annotate(day=TruncDate("created_at", tzinfo=timezone.get_current_timezone()))
        .values("day")
        .annotate(
            total=Count("pk"),
            # Every attempt after the first is a retry.
            retries=Sum("attempts", filter=Q(attempts__gt=1)) - Count("pk", filter=Q(attempts__gt=1)),
        )
        .order_by("day")
    )
    return {
        "totals": {"total": sum(row["total"] for row in rows), "retries": sum(row["retries"] or 0 for row in rows)},
        "by_day": {row["day"]: row["total"] for row in rows},
    }


def funnel_handoff_counts(period: Period) -> dict:
    """Of the leads created in the period: how many reached Chatwoot, and how many a human answered there."""
    done = Handoff.objects.filter(
        state=Handoff.State.DONE, lead__created_at__gte=period.start, lead__created_at__lt=period.end
    )
    if period.team_id is not None:
        done = done.filter(team_id=period.team_id)
    return done.aggregate(
        handed_off=Count("lead", distinct=True),
        replied=Count("lead", distinct=True, filter=Q(first_reply_at__isnull=False)),
    )


def funnel_build(leads: dict, handoffs: dict) -> list[dict]:
    """leads → qualified → handed off → first human reply → converted, each with its rate from the step before."""
    steps = [
        ("leads", "Leads", leads["total"]),
        ("qualified", "Qualificados", leads["qualified"]),
        ("handed_off", "Transferidos", handoffs["handed_off"]),
        ("replied", "Primeira resposta humana", handoffs["replied"]),
        ("converted", "Convertidos", leads["by_status"][Lead.Status.CONVERTIDO]),
    ]
    funnel, previous = [], None
    for key, label, count in steps:
        funnel.append(
            {
                "step": key,
                "label": label,
                "count": count,
                "rate_from_previous": ratio(count, previous) if previous is not None else None,
                "rate_from_leads": ratio(count, leads["total"]),
            }
        )
        previous = count
    return funnel


def agent_performance(period: Period) -> list[dict]:
    """Per Chatwoot agent, over the handoffs that reached Chatwoot in the period.

    Percentiles and the SLA (with business hours and per-rule targets) are computed here from one narrow
    read of the period's handoffs: the same code on SQLite and PostgreSQL, and a few thousand rows a month.
    """
    rows = (
        _handoffs_in(period)
        .filter(state=Handoff.State.DONE, finished_at__isnull=False)
        .values_list(
            "assignee_id",
            "assignee_name",
            "finished_at",
            "first_reply_at",
            "resolved_at",
            "outcome",
            "routing__rule_id",
        )
    )
    agents: dict[int | None, dict] = defaultdict(
        lambda: {"name": "", "handled": 0, "resolved": 0, "converted": 0, "lost": 0, "sla_met": 0, "sla_due": 0}
    )
    samples: dict[int | None, dict[str, list[float]]] = defaultdict(lambda: {"reply": [], "resolution": []})
    sla = _sla_judge()
    for assignee_id, name, handed, replied, resolved, outcome, rule_id in rows.iterator(chunk_size=5000):
        agent = agents[assignee_id]
        agent["name"] = agent["name"] or name or ("Sem agente" if assignee_id is None else f"Agente {assignee_id}")
        agent["handled"] += 1
        if resolved:
            agent["resolved"] += 1
            agent["converted"] += outcome == Lead.Status.CONVERTIDO
            agent["lost"] += outcome == Lead.Status.PERDIDO
            samples[assignee_id]["resolution"].append((resolved - handed).total_seconds() / 3600)
        if replied:
            samples[assignee_id]["reply"].append(max((replied - handed).total_seconds(), 0.0))
        verdict = sla(handed, replied, rule_id)
        agent["sla_met"] += verdict is True
        agent["sla_due"] += verdict is not None
    escalations = _escalations_by_agent(period)
    return sorted(
        (
            _agent_row(agent_id, agent, samples[agent_id], escalations.get(agent_id, 0))
            for agent_id, agent in agents.items()
        ),
        key=lambda row: (-row["handled"], row["name"]),
    )


def _agent_row(agent_id, agent: dict, samples: dict, escalations: int) -> dict:
    reply, resolution = samples["reply"], samples["resolution"]
    return {
        "agent_id": agent_id,
        "name": agent["name"],
        "handled": agent["handled"],
        "resolved": agent["resolved"],
        "converted": agent["converted"],
        "lost": agent["lost"],
        "conversion_rate": ratio(agent["converted"], agent["resolved"]),
        "avg_resolution_hours": round(sum(resolution) / len(resolution), 2) if resolution else None,
        "first_reply_p50_seconds": _rounded(percentile(reply, 0.5)),
        "first_reply_p90_seconds": _rounded(percentile(reply, 0.9)),
        "sla_met": agent["sla_met"],
        "sla_due": agent["sla_due"],
        "sla_attainment": ratio(agent["sla_met"], agent["sla_due"]),
        "escalations": escalations,
    }


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def _sla_judge():
    """A function (handed off, first reply, rule id) → True met, False missed, None not yet due.

    The clock is the escalation job's: from the handoff, in business hours, against the rule's target.
    """
    spec = settings.HANDOFF_BUSINESS_HOURS
    if spec:
        business_hours_parse(spec)  # a bad spec fails here, once, not per row
    targets = dict(RoutingRule.objects.exclude(sla_minutes=None).values_list("id", "sla_minutes"))
    now = timezone.now()

    def judge(handed: datetime, replied: datetime | None, rule_id) -> bool | None:
        limit = 60 * (targets.get(rule_id) or settings.HANDOFF_SLA_MINUTES)
        elapsed = business_seconds(handed, replied or now, spec)
        if replied is None:
            return False if elapsed >= limit else None
        return elapsed <= limit

    return judge


def _escalations_by_agent(period: Period) -> dict[int, int]:
    """Escalations away from each agent in the period (the agent who did not answer in time)."""
    events = HandoffEvent.objects.filter(kind="escalated", created_at__gte=period.start, created_at__lt=period.end)
    if period.team_id is not None:
        events = events.filter(handoff__team_id=period.team_id)
    counts: dict[int, int] = defaultdict(int)
    for agent_id, count in events.values_list("data__from_agent").annotate(count=Count("pk")).order_by():
        counts[agent_id] += count
    return dict(counts)


def handoff_health(period: Period, *, retries: int) -> dict:
    """The integration right now (pending and failed handoffs), and Chatwoot's answers in the period."""
    active = Handoff.objects.filter(state__in=[*Handoff.ACTIVE_STATES, Handoff.State.FAILED])
    if period.team_id is not None:
        active = active.filter(team_id=period.team_id)
    now_counts = active.aggregate(
        queued=Count("pk", filter=Q(state=Handoff.State.QUEUED)),
        in_progress=Count("pk", filter=Q(state=Handoff.State.IN_PROGRESS)),
        failed=Count("pk", filter=Q(state=Handoff.State.FAILED)),
        oldest_pending=Min("created_at", filter=Q(state__in=Handoff.ACTIVE_STATES)),
    )
    failed = active.filter(state=Handoff.State.FAILED).select_related("lead").order_by("-updated_at")[:FAILED_SHOWN]
    return {
        **now_counts,
        "oldest_pending_age_seconds": (
            round((timezone.now() - now_counts["oldest_pending"]).total_seconds())
            if now_counts["oldest_pending"]
            else None
        ),
        "retries": retries,
        "chatwoot_calls": chatwoot_call_figures(period),
        "recent_failures": [
            {"handoff_id": h.pk, "lead_id": h.lead_id, "lead_name": h.lead.name, "error": h.last_error[:200]}
            for h in failed
        ],
    }


def chatwoot_call_figures(period: Period) -> dict:
    """Chatwoot's answers by status class in the period: its error rate is what the integration feels."""
    calls = ChatwootCall.objects.filter(created_at__gte=period.start, created_at__lt=period.end)
    if period.team_id is not None:
        calls = calls.filter(handoff__team_id=period.team_id)
    rows = calls.values("status", "error_class").annotate(count=Count("pk")).order_by()
    by_status: dict[str, int] = defaultdict(int)
    for row in rows:
        by_status[_status_class(row["status"], row["error_class"])] += row["count"]
    total = sum(by_status.values())
    errors = total - by_status.get("2xx", 0)
    return {"total": total, "errors": errors, "error_rate": ratio(errors, total), "by_status": dict(by_status)}


def _status_class(status: int | None, error_class: str) -> str:
    if status is None:
        return "sem resposta" if error_class else "desconhecido"
    if status in (401, 429):
        return str(status)
    return f"{status // 100}xx"


def teams_known() -> list[tuple[int, str]]:
    """The Chatwoot teams Nexa has routed to, for the filter (teams live in Chatwoot; this reads no API)."""
    names = {
        team_id: f"Time {team_id}"
        for team_id in RoutingRule.objects.exclude(team_id=None).values_list("team_id", flat=True)
    }
    recent = Handoff.objects.exclude(team_id=None).order_by("-created_at").values_list("team_id", "team_name")[:2000]
    for team_id, name in recent:
        names[team_id] = name or names.get(team_id) or f"Time {team_id}"
    return sorted(names.items(), key=lambda item: item[1])
