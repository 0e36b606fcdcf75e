"""The handoff outbox and its timeline."""

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from leads.models import Lead


class HandoffQuerySet(models.QuerySet):
    """The one definition of each handoff predicate: claim, sweep, lease and "the lead's latest"."""

    def active(self):
        return self.filter(state__in=Handoff.ACTIVE_STATES)

    def claimable(self, now):
        """Due in the queue, or in progress under a lease that expired (its worker vanished) with attempts left."""
        return self.filter(
            Q(state=Handoff.State.QUEUED, next_attempt_at__lte=now)
            | Q(
                state=Handoff.State.IN_PROGRESS,
                lease_expires_at__lt=now,
                attempts__lt=settings.HANDOFF_MAX_ATTEMPTS,
            )
        )

    def vanished(self, now):
        """In progress under an expired lease and out of attempts: its worker died every time."""
        return self.filter(
            state=Handoff.State.IN_PROGRESS, lease_expires_at__lt=now, attempts__gte=settings.HANDOFF_MAX_ATTEMPTS
        )

    def held(self, pk, token):
        """The handoff while this worker's token still holds its lease (not lost, not cancelled)."""
        return self.filter(pk=pk, claim_token=token, state=Handoff.State.IN_PROGRESS)

    def latest_for(self, lead) -> "Handoff | None":
        return self.filter(lead=lead).order_by("-created_at").first()


class Handoff(models.Model):
    """One attempt to hand a lead to a human in Chatwoot, created in the transaction that qualified the lead.

    Every Chatwoot id is checkpointed here the moment it is known, so a retry resumes where the last
    attempt stopped and never repeats a step.
    """

    class State(models.TextChoices):
        QUEUED = "queued", _("Queued")
        IN_PROGRESS = "in_progress", _("In progress")
        DONE = "done", _("Done")
        FAILED = "failed", _("Failed")
        CANCELLED = "cancelled", _("Cancelled")

    class Trigger(models.TextChoices):
        SCORE = "score", _("Score reached the threshold")
        API = "api", _("Requested by Atlas (API)")
        ADMIN = "admin", _("Manual (admin)")
        RETURNED = "returned", _("The lead came back through Chatwoot")
        SAMPLE = "sample", _("Calibration sample (scored just below the threshold)")

    ACTIVE_STATES = (State.QUEUED, State.IN_PROGRESS)

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    lead = models.ForeignKey(Lead, on_delete=models.CASCADE, related_name="handoffs")
    state = models.CharField(_("status"), max_length=20, choices=State.choices, default=State.QUEUED)
    trigger = models.CharField(_("trigger"), max_length=10, choices=Trigger.choices)
    triggered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    score = models.PositiveSmallIntegerField(_("score at handoff"), null=True, blank=True)
    sample = models.BooleanField(
        _("calibration sample"),
        default=False,
        help_text=_(
            "A lead scored below the threshold, drawn at random to measure its conversion (and its later handoffs, "
            "unless it qualified): counted apart on the dashboard."
        ),
    )
    reason = models.CharField(_("reason"), max_length=255, blank=True)

    attempts = models.PositiveIntegerField(_("attempts"), default=0)
    next_attempt_at = models.DateTimeField(_("next attempt"), null=True, blank=True, default=timezone.now)
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    claim_token = models.UUIDField(null=True, blank=True, help_text="The worker that holds the lease.")
    last_error = models.TextField(_("last error"), blank=True)
    history_until = models.DateTimeField(
        null=True,
        blank=True,
        help_text="The note shows the bot history up to this moment (fixed at the first attempt).",
    )
    # Portuguese gives "created at" and "updated at" the gender of what they describe: a handoff is feminine.
    created_at = models.DateTimeField(pgettext_lazy("handoff", "created at"), default=timezone.now, editable=False)
    lead_created_at = models.DateTimeField(
        null=True,
        editable=False,
        help_text="The lead's creation, copied here (it never changes) so the dashboard's funnel needs no join.",
    )
    updated_at = models.DateTimeField(pgettext_lazy("handoff", "updated at"), auto_now=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)

    inbox_id = models.BigIntegerField(
        _("Chatwoot inbox"), null=True, blank=True, help_text=_("Where this handoff goes, decided when it was queued.")
    )

    # Checkpoints, in step order.
    contact_id = models.BigIntegerField(_("Chatwoot contact"), null=True, blank=True)
    contact_source_id = models.CharField(max_length=255, blank=True, help_text="source_id of the contact_inbox.")
    contact_synced = models.BooleanField(default=False)
    conversation_id = models.BigIntegerField(
        _("Chatwoot conversation"), null=True, blank=True, help_text="The conversation's display id."
    )
    returned_conversation_id = models.BigIntegerField(
        null=True,
        blank=True,
        help_text=_("A returning lead's new conversation (opened because it wrote again): this handoff takes it over."),
    )
    reply_window_closed = models.BooleanField(
        null=True,
        blank=True,
        help_text=_(
            "WhatsApp inbox: free text no longer reaches the lead in this conversation (24 h since its last message); "
            "decided before the note is written, so every attempt writes the same note."
        ),
    )
    conversation_reused = models.BooleanField(
        default=False, help_text="An open conversation of the contact's was reused."
    )
    note_message_ids = models.JSONField(default=list, blank=True)
    note_pending_part = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="A note part that was sent without a clear answer: look before posting it."
    )
    labels = models.JSONField(null=True, blank=True)
    routing = models.JSONField(default=dict, blank=True, help_text="The routing decision, as it was made.")
    assignment_done = models.BooleanField(default=False)
    assignee_id = models.BigIntegerField(null=True, blank=True)
    assignee_name = models.CharField(_("agent"), max_length=255, blank=True)
    team_id = models.BigIntegerField(null=True, blank=True)
    team_name = models.CharField(_("team"), max_length=255, blank=True)

    # What Chatwoot says happened next (webhooks and reconciliation).
    chatwoot_status = models.CharField(_("Chatwoot status"), max_length=20, blank=True)
    chatwoot_updated_at = models.FloatField(
        null=True, blank=True, help_text="Chatwoot's updated_at of the newest conversation state applied."
    )
    chatwoot_heard_at = models.DateTimeField(
        _("last heard from Chatwoot"),
        null=True,
        blank=True,
        help_text="The last webhook or poll about this conversation.",
    )
    first_reply_at = models.DateTimeField(_("first human reply"), null=True, blank=True)
    first_reply_agent_name = models.CharField(max_length=255, blank=True)
    resolved_at = models.DateTimeField(_("resolved at"), null=True, blank=True)
    outcome = models.CharField(_("outcome"), max_length=20, blank=True)
    deal_value = models.DecimalField(
        _("deal value"),
        max_digits=14,
        decimal_places=2,
        null=True,
        blank=True,
        help_text=_("In reais, as the agent recorded it in Chatwoot (HANDOFF_DEAL_VALUE_ATTRIBUTE)."),
    )
    deal_value_text = models.CharField(
        _("deal value as typed"), max_length=100, blank=True, help_text=_("What the agent typed, read or not.")
    )
    loss_reason = models.CharField(
        _("loss reason"),
        max_length=255,
        blank=True,
        help_text=_("As the agent recorded it in Chatwoot (HANDOFF_LOSS_REASON_ATTRIBUTE)."),
    )
    escalations = models.PositiveSmallIntegerField(_("escalations"), default=0)
    sla_started_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="Since when the current agent has had to reply (the handoff, or the last escalation).",
    )
    escalation_note_pending = models.TextField(
        blank=True,
        help_text="The last escalation's private note, until Chatwoot confirms it; the next SLA run posts it "
        "unless its marker is already in the conversation.",
    )

    objects = HandoffQuerySet.as_manager()

    class Meta:
        ordering = ("-created_at",)
        verbose_name = _("handoff")
        verbose_name_plural = _("handoffs")
        constraints = [
            models.UniqueConstraint(
                fields=["lead"], condition=Q(state__in=["queued", "in_progress"]), name="handoff_one_active_per_lead"
            ),
        ]
        indexes = [
            models.Index(fields=["state", "next_attempt_at"], name="handoff_due_idx"),
            models.Index(fields=["lead", "created_at"], name="handoff_lead_idx"),
            models.Index(fields=["assignee_id", "state"], name="handoff_assignee_idx"),
            # The dashboard's date-range passes (per day, funnel) read what they count from the index alone.
            models.Index(
                fields=["created_at"],
                include=[
                    "state",
                    "lead",
                    "lead_created_at",
                    "team_id",
                    "attempts",
                    "first_reply_at",
                    "sample",
                ],
                name="handoff_created_cover3_idx",
            ),
            # The dashboard's team filter.
            models.Index(fields=["team_id", "created_at"], name="handoff_team_created_idx"),
            # The calibration sample's handoffs, few, for the dashboard to leave out of what joins handoffs in.
            models.Index(fields=["id"], condition=Q(sample=True), name="handoff_sample_idx"),
            # Recent failures, newest first, for the dashboard and the admin's failed filter.
            models.Index(fields=["state", "updated_at"], name="handoff_state_updated_idx"),
        ]
        permissions = [
            ("trigger_handoff", "Can hand a lead off to Chatwoot now"),
            ("retry_handoff", "Can retry a failed handoff"),
            ("reassign_handoff", "Can reassign a handed-off lead in Chatwoot"),
            ("cancel_handoff", "Can cancel a handoff"),
        ]

    def __str__(self) -> str:
        return _("Handoff of {lead} ({state})").format(lead=self.lead, state=self.get_state_display())

    def save(self, *args, **kwargs) -> None:
        if self.lead_created_at is None:
            self.lead_created_at = self.lead.created_at
            if kwargs.get("update_fields") is not None:
                kwargs["update_fields"] = {*kwargs["update_fields"], "lead_created_at"}
        super().save(*args, **kwargs)

    @property
    def is_active(self) -> bool:
        return self.state in self.ACTIVE_STATES

    @property
    def conversation_url(self) -> str:
        """The conversation in Chatwoot's agent UI (C.0: URLs use the display id)."""
        if not self.conversation_id or not settings.CHATWOOT_BASE_URL:
            return ""
        base = settings.CHATWOOT_BASE_URL.rstrip("/")
        return f"{base}/app/accounts/{settings.CHATWOOT_ACCOUNT_ID}/conversations/{self.conversation_id}"


class HandoffEvent(models.Model):
    """The timeline a manager reads on the lead page: what happened to a handoff, in words."""

    class Kind(models.TextChoices):
        QUEUED = "queued", _("Queued")
        RESUMED = "resumed", _("Resumed")
        CANCELLED = "cancelled", _("Cancelled")
        ATTEMPT = "attempt", _("Attempt")
        RETRY = "retry", _("Retry scheduled")
        DEFERRED = "deferred", _("Deferred")
        FAILED = "failed", _("Failed")
        CONTACT = "contact", _("Contact")
        CONVERSATION = "conversation", _("Conversation")
        ASSIGNED = "assigned", _("Assigned")
        DONE = "done", _("Done")
        REASSIGNED = "reassigned", _("Reassigned in the admin")
        ESCALATED = "escalated", _("Escalated (no first reply)")
        OWNER = "owner", _("Owner changed in Chatwoot")
        FIRST_REPLY = "first_reply", _("First human reply")
        RESOLVED = "resolved", _("Resolved")
        REOPENED = "reopened", _("Reopened")
        RETURNED = "returned", _("The lead came back")
        RECONCILE = "reconcile", _("Checked in Chatwoot")
        PHONE_MISMATCH = "phone_mismatch", _("Different phone in Chatwoot")

    handoff = models.ForeignKey(Handoff, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=40, choices=Kind.choices)
    message = models.TextField()
    data = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ("created_at", "id")
        verbose_name = _("handoff event")
        verbose_name_plural = _("handoff events")

    def __str__(self) -> str:
        return f"{self.kind}: {self.message[:60]}"


class HandoffDispatcher(models.Model):
    """The one row that says whether a dispatcher is running handoffs (services/dispatcher.py), so that only one
    does: `token` is the running dispatcher's, or empty while one is starting; either holds until `alive_until`."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    token = models.UUIDField(null=True, blank=True)
    alive_until = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"dispatcher {self.token or 'starting'} until {self.alive_until}"
