"""Webhook deliveries: store first (de-duplicated), then process in a task; failures are kept for reprocessing."""

import logging
import traceback
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone
from django_q.tasks import async_task

from handoff import events
from handoff.models import WebhookDelivery
from handoff.services.conversations import NEXAS_OWN, conversation_is_nexas

logger = logging.getLogger(__name__)

TASK = "handoff.tasks.webhook_process"


def webhook_receive(*, body: str, headers: dict, payload: dict, delivery_id: str) -> str:
    """Save the delivery and queue its processing: "accepted", "duplicate" or "ignored" (nothing in it for Nexa: an
    event it does not use, a private note, a conversation it created; stored, not queued)."""
    event = payload["event"]
    ignored = events.ignored_reason(payload) or _nexas_own_conversation(payload)  # stored all the same
    try:
        with transaction.atomic():
            delivery = WebhookDelivery.objects.create(
                delivery_id=delivery_id[:100],
                event=event[:60],
                message_id=events.message_id(payload),
                conversation_id=events.conversation_display_id(payload),
                headers=headers,
                body=body,
                state=WebhookDelivery.State.IGNORED if ignored else WebhookDelivery.State.RECEIVED,
                result=ignored or "",
            )
    except IntegrityError:
        return "duplicate"
    if ignored:
        return "ignored"
    webhook_enqueue(delivery.pk)
    return "accepted"


def _nexas_own_conversation(payload: dict) -> str | None:
    """A conversation Nexa has just created is no news: why it needs no processing, or None. Read defensively: a
    payload it cannot read is stored and left to its task, whose failure is recorded."""
    attributes = payload.get("custom_attributes")
    if (
        payload["event"] == "conversation_created"
        and isinstance(attributes, dict)
        and conversation_is_nexas(attributes)
    ):
        return NEXAS_OWN
    return None


def webhook_enqueue(delivery_pk: int) -> None:
    try:
        async_task(TASK, delivery_pk, group="webhook")
    except Exception:
        # Kept as "received": the admin lists it, and "Reprocessar" runs it.
        logger.exception("could not enqueue webhook delivery %s", delivery_pk)


def webhook_process(*, delivery_pk: int) -> str:
    """Apply one delivery through the handler table; every outcome is recorded on the delivery."""
    delivery = WebhookDelivery.objects.get(pk=delivery_pk)
    fields = {"attempts": delivery.attempts + 1, "processed_at": timezone.now(), "error": "", "traceback": ""}
    try:
        with transaction.atomic():
            result = events.event_apply(delivery.event, delivery.body)
        fields.update(state=WebhookDelivery.State.PROCESSED, result=result.message[:255])
        if delivery.event == "conversation_created" and result.changed and delivery.conversation_id:
            conversation_messages_replay(delivery.conversation_id)
    except events.EventIgnored as ignored:
        fields.update(state=WebhookDelivery.State.IGNORED, result=str(ignored)[:255])
    except Exception as err:
        logger.exception("webhook delivery %s (%s) failed", delivery.pk, delivery.event)
        fields.update(
            state=WebhookDelivery.State.FAILED,
            error=f"{type(err).__name__}: {err}"[:2000],
            traceback=traceback.format_exc()[-8000:],
        )
    WebhookDelivery.objects.filter(pk=delivery.pk).update(**fields)
    return fields["state"]


def conversation_messages_replay(conversation_id: int) -> int:
    """Run again the message deliveries of a conversation that were ignored because Nexa did not know it yet.

    Webhooks come in any order (F.2): a returning lead's first message can be applied before the conversation_created
    that makes a handoff own the conversation. Called when that handoff is queued and again when it takes the
    conversation over; handlers are idempotent, so running one twice changes nothing twice.
    """
    ignored = WebhookDelivery.objects.filter(
        event="message_created", conversation_id=conversation_id, state=WebhookDelivery.State.IGNORED
    )
    ids = list(ignored.order_by("pk").values_list("pk", flat=True))
    for delivery_pk in ids:
        webhook_enqueue(delivery_pk)
    return len(ids)


def webhook_reprocess(*, delivery: WebhookDelivery) -> str:
    """From the admin: run a kept delivery again (handlers are idempotent)."""
    return webhook_process(delivery_pk=delivery.pk)


def webhooks_requeue_stale(now=None) -> int:
    """Enqueue again the deliveries still `received` a while after they arrived; returns how many.

    django-q runs a task once (max_attempts 1): a worker that died mid-delivery, or a lost enqueue, would leave
    the delivery unprocessed for good. Handlers are idempotent, so a delivery merely slow in the queue is safe too.
    """
    now = now or timezone.now()
    stale = WebhookDelivery.objects.filter(
        state=WebhookDelivery.State.RECEIVED,
        received_at__lt=now - timedelta(minutes=settings.WEBHOOK_REQUEUE_AFTER_MINUTES),
    )
    _dead_letter_exhausted(stale, now)
    ids = list(stale.order_by("received_at", "pk").values_list("pk", flat=True)[: settings.WEBHOOK_REQUEUE_BATCH])
    # Counted before enqueuing: a delivery that kills its worker every time stops being retried.
    WebhookDelivery.objects.filter(pk__in=ids, state=WebhookDelivery.State.RECEIVED).update(attempts=F("attempts") + 1)
    for delivery_pk in ids:
        webhook_enqueue(delivery_pk)
    if ids:
        logger.warning("re-enqueued %s webhook deliveries left unprocessed", len(ids))
    return len(ids)


def _dead_letter_exhausted(stale, now) -> None:
    reason = f"O worker parou sem concluir em {settings.WEBHOOK_MAX_ATTEMPTS} tentativas; use Reprocessar."
    stale.filter(attempts__gte=settings.WEBHOOK_MAX_ATTEMPTS).update(
        state=WebhookDelivery.State.FAILED, error=reason, processed_at=now
    )
