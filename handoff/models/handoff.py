"""The handoff outbox and its timeline."""

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

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
        QUEUED = "queued", "Na fila"
        IN_PROGRESS = "in_progress", "Em andamento"
        DONE = "done", "Concluída"
        FAILED = "failed", "Falhou"
        CANCELLED = "cancelled", "Cancelada"

    class Trigger(models.TextChoices):
        SCORE = "score", "Nota atingiu o limiar"
        API = "api", "Pedido do Atlas (API)"
        ADMIN = "admin", "Manual (admin)"
        RETURNED = "returned", "O lead voltou pelo Chatwoot"

    ACTIVE_STATES = (State.QUEUED, State.IN_PROGRESS)

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    lead = models.ForeignKey(Lead, on_delete=models.CASCADE, related_name="handoffs")
    state = models.CharField("situação", max_length=20, choices=State.choices, default=State.QUEUED)
    trigger = models.CharField("origem", max_length=10, choices=Trigger.choices)
    triggered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    score = models.PositiveSmallIntegerField("nota na transferência", null=True, blank=True)
    reason = models.CharField("motivo", max_length=255, blank=True)

    attempts = models.PositiveIntegerField("tentativas", default=0)
    next_attempt_at = models.DateTimeField("próxima tentativa", null=True, blank=True, default=timezone.now)
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    claim_token = models.UUIDField(null=True, blank=True, help_text="The worker that holds the lease.")
    last_error = models.TextField("último erro", blank=True)
    history_until = models.DateTimeField(
        null=True,
        blank=True,
        help_text="The note shows the bot history up to this moment (fixed at the first attempt).",
    )
    created_at = models.DateTimeField("criada em", default=timezone.now, editable=False)
    lead_created_at = models.DateTimeField(
        null=True,
        editable=False,
        help_text="The lead's creation, copied here (it never changes) so the dashboard's funnel needs no join.",
    )
    updated_at = models.DateTimeField("atualizada em", auto_now=True)
    finished_at = models.DateTimeField("encerrada em", null=True, blank=True)

    # Checkpoints, in step order.
    contact_id = models.BigIntegerField("contato no Chatwoot", null=True, blank=True)
    contact_source_id = models.CharField(max_length=255, blank=True, help_text="source_id of the contact_inbox.")
    contact_synced = models.BooleanField(default=False)
    conversation_id = models.BigIntegerField(
        "conversa no Chatwoot", null=True, blank=True, help_text="The conversation's display id."
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
    assignee_name = models.CharField("agente", max_length=255, blank=True)
    team_id = models.BigIntegerField(null=True, blank=True)
    team_name = models.CharField("time", max_length=255, blank=True)

    # What Chatwoot says happened next (webhooks and reconciliation).
    chatwoot_status = models.CharField("situação no Chatwoot", max_length=20, blank=True)
    chatwoot_updated_at = models.FloatField(
        null=True, blank=True, help_text="Chatwoot's updated_at of the newest conversation state applied."
    )
    chatwoot_heard_at = models.DateTimeField(
        "notícias do Chatwoot em", null=True, blank=True, help_text="The last webhook or poll about this conversation."
    )
    first_reply_at = models.DateTimeField("primeira resposta humana", null=True, blank=True)
    first_reply_agent_name = models.CharField(max_length=255, blank=True)
    resolved_at = models.DateTimeField("resolvida em", null=True, blank=True)
    outcome = models.CharField("resultado", max_length=20, blank=True)
    escalations = models.PositiveSmallIntegerField("escalonamentos", default=0)
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
        verbose_name = "transferência"
        verbose_name_plural = "transferências"
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
                include=["state", "lead", "lead_created_at", "team_id", "attempts", "first_reply_at"],
                name="handoff_created_cover2_idx",
            ),
            # The dashboard's team filter.
            models.Index(fields=["team_id", "created_at"], name="handoff_team_created_idx"),
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
        return f"Transferência de {self.lead} ({self.get_state_display()})"

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
        QUEUED = "queued", "Na fila"
        RESUMED = "resumed", "Retomada"
        CANCELLED = "cancelled", "Cancelada"
        ATTEMPT = "attempt", "Tentativa"
        RETRY = "retry", "Nova tentativa agendada"
        DEFERRED = "deferred", "Adiada"
        FAILED = "failed", "Falhou"
        CONTACT = "contact", "Contato"
        CONVERSATION = "conversation", "Conversa"
        ASSIGNED = "assigned", "Atribuída"
        DONE = "done", "Concluída"
        REASSIGNED = "reassigned", "Reatribuída pelo admin"
        ESCALATED = "escalated", "Escalonada (sem primeira resposta)"
        OWNER = "owner", "Responsável mudou no Chatwoot"
        FIRST_REPLY = "first_reply", "Primeira resposta humana"
        RESOLVED = "resolved", "Resolvida"
        REOPENED = "reopened", "Reaberta"
        RETURNED = "returned", "O lead voltou"
        RECONCILE = "reconcile", "Conferida no Chatwoot"
        PHONE_MISMATCH = "phone_mismatch", "Telefone diferente no Chatwoot"

    handoff = models.ForeignKey(Handoff, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=40, choices=Kind.choices)
    message = models.TextField()
    data = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ("created_at", "id")
        verbose_name = "evento da transferência"
        verbose_name_plural = "eventos das transferências"

    def __str__(self) -> str:
        return f"{self.kind}: {self.message[:60]}"
