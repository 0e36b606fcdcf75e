"""Signed events for Atlas, n8n and other subscribers: subscriptions, the outbox and its deliveries."""

import uuid

from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class EventType(models.TextChoices):
    LEAD_QUALIFIED = "lead.qualified", _("Lead qualified")
    HANDOFF_QUEUED = "handoff.queued", _("Handoff queued")
    HANDOFF_COMPLETED = "handoff.completed", _("Handoff completed")
    HANDOFF_FAILED = "handoff.failed", _("Handoff failed")
    HUMAN_REPLIED = "conversation.human_replied", _("First human reply")
    AGENT_SENT = "message.agent_sent", _("Agent message")
    ASSIGNED = "conversation.assigned", _("Conversation assigned")
    REOPENED = "conversation.reopened", _("Conversation reopened")
    LEAD_CONVERTED = "lead.converted", _("Lead converted")
    LEAD_LOST = "lead.lost", _("Lead lost")
    RETURNED_TO_BOT = "lead.returned_to_bot", _("Lead back with the bot")


class Subscription(models.Model):
    """A receiver of Nexa's events (an n8n Webhook node, Atlas): where to POST, which events, signed with what."""

    name = models.CharField(_("name"), max_length=120)
    url = models.URLField(_("URL"), max_length=500)
    secrets = models.TextField(
        _("secrets"),
        help_text=_(
            "whsec_… secrets, one per line; every event is signed with each of them, so the receiver's secret can be "
            "rotated without losing an event: add the new one, update the receiver, remove the old one."
        ),
    )
    event_types = models.JSONField(
        _("events"), default=list, blank=True, help_text=_("The events to send; none chosen: every event.")
    )
    active = models.BooleanField(_("active"), default=True)
    disabled_reason = models.CharField(_("why inactive"), max_length=255, blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now, editable=False)

    class Meta:
        ordering = ("name", "id")
        verbose_name = _("subscription")
        verbose_name_plural = _("subscriptions")

    def __str__(self) -> str:
        return self.name

    @property
    def secret_list(self) -> list[str]:
        return [line.strip() for line in self.secrets.splitlines() if line.strip()]

    def takes(self, event_type: str) -> bool:
        return not self.event_types or event_type in self.event_types


class OutboundEvent(models.Model):
    """The outbox: one row per event, written in the transaction of the change it reports; its body is signed and
    sent as stored, so every attempt and every redelivery carries the same bytes and the same webhook-id."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    type = models.CharField(_("event"), max_length=60, choices=EventType.choices)
    lead = models.ForeignKey("leads.Lead", on_delete=models.CASCADE, related_name="outbound_events")
    body = models.TextField(help_text=_("The JSON sent, exactly."))
    created_at = models.DateTimeField(_("created at"), default=timezone.now, editable=False)

    class Meta:
        ordering = ("-created_at",)
        verbose_name = _("event")
        verbose_name_plural = _("events")

    def __str__(self) -> str:
        return f"{self.type} {self.webhook_id}"

    @property
    def webhook_id(self) -> str:
        return f"msg_{self.pk.hex}"


class Delivery(models.Model):
    """One event to one subscription, sent in order per lead, retried with backoff for up to a day."""

    class State(models.TextChoices):
        PENDING = "pending", _("Pending")
        DELIVERED = "delivered", _("Delivered")
        FAILED = "failed", _("Failed")

    subscription = models.ForeignKey(Subscription, on_delete=models.CASCADE, related_name="deliveries")
    event = models.ForeignKey(OutboundEvent, on_delete=models.CASCADE, related_name="deliveries")
    lead_id = models.UUIDField(help_text=_("The event's lead: deliveries to a subscription go in order per lead."))
    state = models.CharField(_("status"), max_length=20, choices=State.choices, default=State.PENDING)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    next_attempt_at = models.DateTimeField(_("next attempt"), default=timezone.now)
    retry_until = models.DateTimeField(_("retried until"), help_text=_("A day after it was queued (or redelivered)."))
    last_status = models.PositiveSmallIntegerField(_("last answer"), null=True, blank=True)
    last_error = models.CharField(_("last error"), max_length=255, blank=True)
    delivered_at = models.DateTimeField(_("delivered at"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now, editable=False)

    class Meta:
        ordering = ("-created_at", "-id")
        verbose_name = _("delivery")
        verbose_name_plural = _("deliveries")
        permissions = [("redeliver_delivery", "Can send an event to its subscriber again")]
        constraints = [models.UniqueConstraint(fields=["subscription", "event"], name="delivery_once_per_event")]
        indexes = [
            models.Index(fields=["next_attempt_at"], condition=Q(state="pending"), name="delivery_due_idx"),
            models.Index(fields=["subscription", "lead_id", "id"], name="delivery_lead_order_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.event} → {self.subscription}"


class DeliveryAttempt(models.Model):
    """One POST to a subscriber: what it answered, how long it took (the response truncated, never a secret)."""

    delivery = models.ForeignKey(Delivery, on_delete=models.CASCADE, related_name="attempt_rows")
    status = models.PositiveSmallIntegerField(_("answer"), null=True, blank=True)
    duration_ms = models.PositiveIntegerField(_("duration (ms)"))
    response = models.TextField(_("response"), blank=True)
    error = models.CharField(_("error"), max_length=255, blank=True)
    created_at = models.DateTimeField(_("at"), default=timezone.now)

    class Meta:
        ordering = ("-created_at", "-id")
        verbose_name = _("attempt")
        verbose_name_plural = _("attempts")

    def __str__(self) -> str:
        return f"{self.status or self.error} in {self.duration_ms} ms"
