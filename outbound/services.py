"""The outbox: events recorded in the transaction of the change they report, one delivery per subscription."""

import json
from datetime import timedelta

from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.utils import timezone

from handoff.models import Handoff
from handoff.selectors import bot_should_reply, handoff_latest, handoff_summary
from leads.models import Lead
from outbound.models import Delivery, EventType, OutboundEvent, Subscription

RETRY_FOR = timedelta(days=1)  # a delivery that keeps failing is retried this long, then kept as failed


def event_emit(event_type: EventType, *, lead: Lead, **data) -> OutboundEvent | None:
    """Record the event for every active subscription that takes it, in the caller's transaction: it is sent after
    commit, or never if the change rolls back. Without such a subscription nothing is stored (and a callable in
    `data` is not even called: what costs a read is passed as one)."""
    subscriptions = [s for s in Subscription.objects.filter(active=True) if s.takes(event_type)]
    if not subscriptions:
        return None
    data = {key: value() if callable(value) else value for key, value in data.items()}  # read only when sent
    now = timezone.now()
    envelope = {
        "type": str(event_type),
        "timestamp": now,
        "data": {"lead": lead_summary(lead), **data},
    }
    event = OutboundEvent.objects.create(
        type=event_type, lead=lead, body=json.dumps(envelope, cls=DjangoJSONEncoder, ensure_ascii=False), created_at=now
    )
    Delivery.objects.bulk_create(
        Delivery(
            subscription=subscription,
            event=event,
            lead_id=lead.pk,
            next_attempt_at=now,
            retry_until=now + RETRY_FOR,
            created_at=now,
        )
        for subscription in subscriptions
    )
    transaction.on_commit(_dispatcher_wake)
    return event


def lead_qualified_emit(*, lead: Lead, trigger: str) -> None:
    # The handoff queued by handoff's receiver of the same signal, when one was: read only for a subscriber.
    event_emit(
        EventType.LEAD_QUALIFIED, lead=lead, trigger=trigger, handoff=lambda: handoff_summary(handoff_latest(lead))
    )


def handoff_ended_emit(handoff: Handoff, *, lead: Lead, outcome: str = "", reason: str = "") -> None:
    """A handoff's end as subscribers see it: done (the lead is with a human), or the lead back with the bot — failed,
    cancelled, or its conversation resolved (converted or lost) — when bot_should_reply turns true again."""
    summary = handoff_summary(handoff)
    if handoff.state == Handoff.State.DONE and not outcome:
        event_emit(EventType.HANDOFF_COMPLETED, lead=lead, handoff=summary)
        return
    if handoff.state == Handoff.State.FAILED:
        event_emit(EventType.HANDOFF_FAILED, lead=lead, handoff=summary, reason=reason)
    if outcome:
        won = outcome == Lead.Status.CONVERTIDO
        event_emit(EventType.LEAD_CONVERTED if won else EventType.LEAD_LOST, lead=lead, handoff=summary)
    if bot_should_reply(lead):  # not while the lead is with a human in another conversation
        why = outcome or handoff.state  # convertido, perdido, failed, cancelled
        event_emit(EventType.RETURNED_TO_BOT, lead=lead, handoff=summary, reason=why)


def handoff_queued_emit(handoff) -> None:
    """A handoff of the lead is queued (qualified, asked for from the admin, retried, or the lead came back): the bot
    must be silent from now on."""
    event_emit(EventType.HANDOFF_QUEUED, lead=handoff.lead, handoff=handoff_summary(handoff), trigger=handoff.trigger)


def assigned_emit(handoff, *, by: str) -> None:
    """The conversation changed hands after the handoff: in Chatwoot, by an escalation, or from the admin."""
    event_emit(EventType.ASSIGNED, lead=handoff.lead, handoff=handoff_summary(handoff), by=by)


def lead_summary(lead: Lead) -> dict:
    """The lead as every event carries it: who, where to answer, and whether Atlas may speak now."""
    return {
        "id": str(lead.pk),
        "external_id": lead.external_id,
        "name": lead.name,
        "phone": lead.phone,
        "status": lead.status,
        "qualification_score": lead.qualification_score,
        "chatwoot_inbox_id": lead.chatwoot_inbox_id,
        "chatwoot_conversation_id": lead.chatwoot_conversation_id,
        "bot_should_reply": bot_should_reply(lead),
    }


def delivery_redeliver(*, delivery: Delivery) -> None:
    """From the admin: send a failed (or delivered) event again, as it was, with the same webhook-id (a pending one
    is on its way already)."""
    now = timezone.now()
    Delivery.objects.filter(pk=delivery.pk).exclude(state=Delivery.State.PENDING).update(
        state=Delivery.State.PENDING, next_attempt_at=now, retry_until=now + RETRY_FOR, attempts=0, last_error=""
    )
    transaction.on_commit(_dispatcher_wake)


def _dispatcher_wake() -> None:
    from handoff.services.dispatcher import dispatcher_ensure

    dispatcher_ensure()
