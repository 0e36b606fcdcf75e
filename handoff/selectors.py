"""Reads of handoffs for the API and the admin."""

from django.db.models import Prefetch, QuerySet

from handoff.models import Handoff
from leads.models import Lead


def leads_with_handoffs(leads: QuerySet[Lead]) -> QuerySet[Lead]:
    """One extra query for a whole page of leads, newest handoff first."""
    return leads.prefetch_related(Prefetch("handoffs", queryset=Handoff.objects.order_by("-created_at")))


def handoff_latest_known(lead: Lead, handoff: Handoff) -> None:
    """Tell this lead object its newest handoff, just read or written: the answer about it (the trigger's) reads it
    no more. Only for that answer: a lead object kept longer would go on seeing this one."""
    lead.latest_handoff_known = handoff


def handoff_latest(lead: Lead) -> Handoff | None:
    """The lead's newest handoff, for an answer about it: known (handoff_latest_known), prefetched
    (leads_with_handoffs), or read."""
    known = getattr(lead, "latest_handoff_known", None)
    if known is not None:
        return known
    cached = getattr(lead, "_prefetched_objects_cache", {}).get("handoffs")
    if cached is not None:
        return cached[0] if cached else None
    return Handoff.objects.latest_for(lead)


def handoff_summary(handoff: Handoff | None) -> dict | None:
    """The `handoff` object of the API: where the lead is, and who has it."""
    if handoff is None:
        return None
    return {
        "id": str(handoff.pk),
        "state": handoff.state,
        "trigger": handoff.trigger,
        "sample": handoff.sample,
        "attempts": handoff.attempts,
        "next_attempt_at": handoff.next_attempt_at if handoff.state == Handoff.State.QUEUED else None,
        "last_error": handoff.last_error or None,
        "chatwoot_contact_id": handoff.contact_id,
        "chatwoot_conversation_id": handoff.conversation_id,
        "chatwoot_inbox_id": handoff.inbox_id,
        "conversation_url": handoff.conversation_url or None,
        "assignee": {"id": handoff.assignee_id, "name": handoff.assignee_name} if handoff.assignee_id else None,
        "team": {"id": handoff.team_id, "name": handoff.team_name} if handoff.team_id else None,
        "outcome": handoff.outcome or None,
        "deal_value": str(handoff.deal_value) if handoff.deal_value is not None else None,
        "loss_reason": handoff.loss_reason or None,
        "created_at": handoff.created_at,
        "finished_at": handoff.finished_at,
    }


def bot_should_reply(lead: Lead) -> bool:
    """Atlas stays silent from the moment a handoff is queued until Chatwoot resolves it (or it is cancelled)."""
    if lead.status == Lead.Status.HANDED_OFF:
        return False
    latest = handoff_latest(lead)
    return not (latest and latest.is_active)
