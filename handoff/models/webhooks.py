"""Webhook deliveries from Chatwoot, stored raw before anything is done with them."""

from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class WebhookDelivery(models.Model):
    """One accepted delivery, kept as it arrived so that it can be processed, inspected and reprocessed."""

    class State(models.TextChoices):
        RECEIVED = "received", _("Received")
        PROCESSED = "processed", _("Processed")
        IGNORED = "ignored", _("Ignored")
        FAILED = "failed", _("Failed")

    delivery_id = models.CharField(_("delivery"), max_length=100, unique=True, help_text="X-Chatwoot-Delivery.")
    event = models.CharField(_("event"), max_length=60)
    message_id = models.BigIntegerField(null=True, blank=True, help_text="Chatwoot's message id, for message events.")
    conversation_id = models.BigIntegerField(null=True, blank=True, help_text="The conversation's display id.")
    headers = models.JSONField(default=dict, help_text="The request headers, without credentials.")
    body = models.TextField(help_text="The raw body, exactly as received.")
    received_at = models.DateTimeField(_("received at"), default=timezone.now)
    state = models.CharField(_("status"), max_length=20, choices=State.choices, default=State.RECEIVED)
    processed_at = models.DateTimeField(_("processed at"), null=True, blank=True)
    result = models.CharField(_("result"), max_length=255, blank=True)
    error = models.TextField(_("error"), blank=True)
    traceback = models.TextField(blank=True)
    attempts = models.PositiveSmallIntegerField(_("times processed"), default=0)

    class Meta:
        ordering = ("-received_at", "-id")
        verbose_name = _("Chatwoot webhook")
        verbose_name_plural = _("Chatwoot webhooks")
        permissions = [("reprocess_webhookdelivery", "Can reprocess a Chatwoot webhook delivery")]
        constraints = [
            # A message event delivered twice under two delivery ids is still one message (F.5: no retries, but
            # API-inbox and account webhooks can both carry it).
            models.UniqueConstraint(
                fields=["event", "message_id"],
                condition=Q(message_id__isnull=False, event="message_created"),
                name="webhook_message_created_once",
            ),
        ]
        indexes = [
            models.Index(fields=["state", "received_at"], name="webhook_state_idx"),
            models.Index(fields=["event", "received_at"], name="webhook_event_idx"),
            models.Index(fields=["conversation_id"], name="webhook_conversation_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.event} {self.delivery_id}"
