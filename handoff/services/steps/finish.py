"""f. The lead is with a human: its status, its Chatwoot ids, the bot conversation handed off."""

from django.db import transaction
from django.utils import timezone

from handoff.models import Handoff, HandoffEvent
from handoff.services.conversations import outcome_for, resolution_apply
from handoff.services.lifecycle import handoff_event
from handoff.services.steps.note import whatsapp_window_warning
from leads.models import BotConversation, Lead
from outbound.services import handoff_ended_emit

Kind = HandoffEvent.Kind


def finish(run) -> None:
    """f. The lead is with a human: its status, its Chatwoot ids, and the bot conversation marked handed off."""
    handoff = run.handoff
    now = timezone.now()
    with transaction.atomic():
        # Both rows locked by one read of the join, as services.conversations locks them: a status Chatwoot reported
        # while this handoff was in progress is read here, or its webhook waits and then finds the handoff done.
        reported = (
            Handoff.objects.select_for_update()
            .select_related("lead")
            .only("chatwoot_status", "outcome", "lead")
            .get(pk=handoff.pk)
        )
        lead = reported.lead
        lead.status = Lead.Status.HANDED_OFF
        lead.chatwoot_contact_id, lead.chatwoot_conversation_id = handoff.contact_id, handoff.conversation_id
        lead.chatwoot_inbox_id = handoff.inbox_id  # the lead's next handoffs go where this one went
        fields = ["status", "chatwoot_contact_id", "chatwoot_conversation_id", "chatwoot_inbox_id", "updated_at"]
        lead.save(update_fields=fields)
        BotConversation.objects.filter(lead=lead, status=BotConversation.Status.ACTIVE).update(
            status=BotConversation.Status.HANDED_OFF, handoff_at=now
        )
        kept = handoff.routing.get("kept_agent_id")
        run.checkpoint(
            state=Handoff.State.DONE,
            finished_at=now,
            claim_token=None,
            lease_expires_at=None,
            last_error="",
            **({"assignee_id": kept, "assignee_name": handoff.routing.get("agent_name", "")} if kept else {}),
        )
        warning = whatsapp_window_warning(handoff)
        done = f"Com um humano no Chatwoot (conversa {handoff.conversation_id})."
        handoff_event(handoff, Kind.DONE, f"{done} ⚠️ {warning}" if warning else done)
        handoff_ended_emit(handoff, lead=lead)
        if reported.chatwoot_status == "resolved":
            _resolved_meanwhile(handoff, lead, reported.outcome)


def _resolved_meanwhile(handoff: Handoff, lead: Lead, outcome: str) -> None:
    """Chatwoot resolved the conversation before the handoff finished: the lead ends as Chatwoot says."""
    resolution_apply(handoff, lead, outcome or outcome_for([]))
    Handoff.objects.filter(pk=handoff.pk).update(resolved_at=handoff.resolved_at, outcome=handoff.outcome)
