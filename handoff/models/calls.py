"""The audit of Chatwoot calls, and the throttle state all workers share."""

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from handoff.models.handoff import Handoff


class ChatwootCall(models.Model):
    """One row per Chatwoot request: the request without headers (the token lives only there)."""

    handoff = models.ForeignKey(Handoff, on_delete=models.SET_NULL, null=True, blank=True, related_name="calls")
    step = models.CharField(_("step"), max_length=40, blank=True)
    method = models.CharField(max_length=10)
    path = models.CharField(max_length=500)
    status = models.PositiveSmallIntegerField(null=True, blank=True)
    duration_ms = models.PositiveIntegerField(_("duration (ms)"))
    request = models.JSONField(null=True, blank=True)
    response = models.TextField(blank=True)
    error_class = models.CharField(_("error"), max_length=60, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ("-created_at", "-id")
        verbose_name = _("Chatwoot call")
        verbose_name_plural = _("Chatwoot calls")
        indexes = [
            models.Index(fields=["handoff", "created_at"], name="chatwootcall_handoff_idx"),
            # The admin's newest-first list, and the dashboard's answers-by-status read from the index alone.
            models.Index(fields=["created_at"], include=["status", "error_class"], name="chatwootcall_created_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.method} {self.path} → {self.status or self.error_class}"


class ChatwootThrottle(models.Model):
    """Shared across workers when Redis is not configured: the pause after a 429 and the request budget window."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    paused_until = models.DateTimeField(null=True, blank=True)
    pause_seconds = models.FloatField(
        default=0, help_text="The last pause after a 429; 0 once a probe call got through (no 429 episode)."
    )
    probe_until = models.DateTimeField(null=True, blank=True, help_text="A probe call is in flight until then.")
    window_started_at = models.DateTimeField(null=True, blank=True)
    window_count = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return f"paused until {self.paused_until}"
