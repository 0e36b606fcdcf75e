"""Agent performance: conversations, outcomes, first-reply times and the speed-to-lead target, per agent."""

from collections import defaultdict
from datetime import timedelta

from django.conf import settings
from django.db import connection
from django.db.models import (
    Aggregate,
    Avg,
    Case,
    Count,
    DateTimeField,
    DurationField,
    Exists,
    ExpressionWrapper,
    F,
    IntegerField,
    Max,
    OuterRef,
    Q,
    QuerySet,
    Value,
    When,
)
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Cast
from django.db.models.lookups import Exact
from django.utils import timezone

from dashboard.selectors.period import Period, handoffs_in, percentile, ratio
from handoff.business_hours import business_hours_parse, business_seconds
from handoff.models import Handoff, HandoffEvent, RoutingRule
from leads.models import Lead


def agent_performance(period: Period) -> list[dict]:
    """Per Chatwoot agent, over the handoffs that reached Chatwoot in the period; times from the handoff. The
    calibration sample is left out: its leads were not chosen by the threshold, and are shown apart.

    Counts, outcomes, the average resolution, the SLA and (on PostgreSQL) the first-reply percentiles are one
    GROUP BY in the database. SQLite has no percentile_cont: there the durations come back for Python.
    """
    handoffs = _done_with_durations(period)
    in_database = connection.vendor == "postgresql"
    percentiles = {"reply_p50": _Percentile("reply", 0.5), "reply_p90": _Percentile("reply", 0.9)}
    rows = list(
        handoffs.values("assignee_id")
        .annotate(
            name=Max("assignee_name"),
            handled=Count("pk"),
            resolved=Count("pk", filter=Q(resolved_at__isnull=False)),
            converted=Count("pk", filter=Q(resolved_at__isnull=False, outcome=Lead.Status.CONVERTIDO)),
            lost=Count("pk", filter=Q(resolved_at__isnull=False, outcome=Lead.Status.PERDIDO)),
            resolution_avg=Avg("resolution"),
            **_sla_counts(),
            **(percentiles if in_database else {}),
        )
        .order_by()
    )
    if settings.HANDOFF_BUSINESS_HOURS:
        _sla_in_business_hours(handoffs, rows)
    if not in_database:
        _percentiles_in_python(handoffs, rows)
    escalations = _escalations_by_agent(period)
    table = [_agent_row(row, escalations.get(row["assignee_id"], 0)) for row in rows]
    return sorted(table, key=lambda row: (-row["handled"], row["name"]))


class _Percentile(Aggregate):
    """PostgreSQL's ordered-set aggregate; NULLs (no reply yet) are left out, as in the Python fallback."""

    function = "percentile_cont"
    template = "%(function)s(%(fraction)s) WITHIN GROUP (ORDER BY %(expressions)s)"
    output_field = DurationField()

    def __init__(self, expression, fraction: float):
        super().__init__(expression, fraction=fraction)


def _percentiles_in_python(handoffs: QuerySet[Handoff], rows: list[dict]) -> None:
    replies: dict[int | None, list[timedelta]] = defaultdict(list)
    for agent_id, reply in handoffs.filter(first_reply_at__isnull=False).values_list("assignee_id", "reply"):
        replies[agent_id].append(reply)
    for row in rows:
        seconds = [max(reply.total_seconds(), 0.0) for reply in replies[row["assignee_id"]]]
        for name, fraction in (("reply_p50", 0.5), ("reply_p90", 0.9)):
            value = percentile(seconds, fraction)
            row[name] = timedelta(seconds=value) if value is not None else None


def _done_with_durations(period: Period) -> QuerySet[Handoff]:
    """The period's handoffs that reached Chatwoot, with durations the database subtracts (no datetimes to parse)."""
    return (
        handoffs_in(period)
        .filter(state=Handoff.State.DONE, finished_at__isnull=False, sample=False)
        .annotate(
            reply=_since_handoff(F("first_reply_at")),
            resolution=_since_handoff(F("resolved_at")),
            age=_since_handoff(Value(timezone.now(), output_field=DateTimeField())),
            sla_limit=_sla_limit(),
        )
    )


def _since_handoff(moment) -> ExpressionWrapper:
    return ExpressionWrapper(moment - F("finished_at"), output_field=DurationField())


def _sla_limit() -> Case:
    """The first-reply target of each handoff: its routing rule's, else HANDOFF_SLA_MINUTES."""
    rule_id = Cast(KeyTextTransform("rule_id", "routing"), IntegerField())
    rules = RoutingRule.objects.exclude(sla_minutes=None).values_list("id", "sla_minutes")
    return Case(
        *[When(Exact(rule_id, rule), then=Value(timedelta(minutes=minutes))) for rule, minutes in rules],
        default=Value(timedelta(minutes=settings.HANDOFF_SLA_MINUTES)),
        output_field=DurationField(),
    )


def _sla_counts() -> dict:
    """Met: a first reply within the target. Missed: a late reply, or none while the target has passed."""
    met = Q(reply__lte=F("sla_limit"))
    missed = Q(reply__gt=F("sla_limit")) | Q(first_reply_at__isnull=True, age__gte=F("sla_limit"))
    return {"sla_met": Count("pk", filter=met), "sla_missed": Count("pk", filter=missed)}


def _sla_in_business_hours(handoffs: QuerySet[Handoff], rows: list[dict]) -> None:
    """With business hours the clock stops at night, which only Python can count: judged handoff by handoff."""
    spec = settings.HANDOFF_BUSINESS_HOURS
    business_hours_parse(spec)  # a bad spec fails here, once, not per row
    now = timezone.now()
    judged: dict[int | None, dict[str, int]] = defaultdict(lambda: {"sla_met": 0, "sla_missed": 0})
    moments = handoffs.values_list("assignee_id", "finished_at", "first_reply_at", "sla_limit")
    for agent_id, handed, replied, limit in moments.iterator(chunk_size=5000):
        elapsed = business_seconds(handed, replied or now, spec)
        if replied is not None or elapsed >= limit.total_seconds():
            judged[agent_id]["sla_met" if replied and elapsed <= limit.total_seconds() else "sla_missed"] += 1
    for row in rows:
        row.update(judged[row["assignee_id"]])


def _escalations_by_agent(period: Period) -> dict[int, int]:
    """Escalations away from each agent in the period (the agent who did not answer in time)."""
    events = HandoffEvent.objects.filter(
        kind=HandoffEvent.Kind.ESCALATED, created_at__gte=period.start, created_at__lt=period.end
    ).exclude(Exists(Handoff.objects.filter(pk=OuterRef("handoff_id"), sample=True)))  # from handoff_sample_idx
    if period.team_id is not None:
        events = events.filter(handoff__team_id=period.team_id)
    counts: dict[int, int] = defaultdict(int)
    for agent_id, count in events.values_list("data__from_agent").annotate(count=Count("pk")).order_by():
        counts[agent_id] += count
    return dict(counts)


def _agent_row(row: dict, escalations: int) -> dict:
    agent_id, resolution = row["assignee_id"], row["resolution_avg"]
    due = row["sla_met"] + row["sla_missed"]
    return {
        "agent_id": agent_id,
        "name": row["name"] or ("Sem agente" if agent_id is None else f"Agente {agent_id}"),
        "handled": row["handled"],
        "resolved": row["resolved"],
        "converted": row["converted"],
        "lost": row["lost"],
        "conversion_rate": ratio(row["converted"], row["resolved"]),
        "avg_resolution_hours": round(resolution.total_seconds() / 3600, 2) if resolution is not None else None,
        "first_reply_p50_seconds": _seconds(row["reply_p50"]),
        "first_reply_p90_seconds": _seconds(row["reply_p90"]),
        "sla_met": row["sla_met"],
        "sla_due": due,
        "sla_attainment": ratio(row["sla_met"], due),
        "escalations": escalations,
    }


def _seconds(value: timedelta | None) -> float | None:
    """Whole tenths of a second; a reply stamped a moment before the handoff finished counts as zero."""
    return None if value is None else round(max(value.total_seconds(), 0.0), 1)
