"""The integration's health: pending and failed handoffs now, and Chatwoot's answers in a period."""

from collections import defaultdict

from django.db.models import Count, Min, Q
from django.utils import timezone

from dashboard.selectors.period import Period, ratio
from handoff.models import ChatwootCall, Handoff, RoutingRule

FAILED_SHOWN = 10


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
