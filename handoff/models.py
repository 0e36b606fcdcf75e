"""The handoff outbox, its timeline, the audit of every Chatwoot call, and routing state."""

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from leads.models import Lead


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
            models.Index(fields=["created_at"], name="handoff_created_idx"),
        ]
        permissions = [
            ("trigger_handoff", "Can hand a lead off to Chatwoot now"),
            ("retry_handoff", "Can retry a failed handoff"),
            ("reassign_handoff", "Can reassign a handed-off lead in Chatwoot"),
            ("cancel_handoff", "Can cancel a handoff"),
        ]

    def __str__(self) -> str:
        return f"Transferência de {self.lead} ({self.get_state_display()})"

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

    handoff = models.ForeignKey(Handoff, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=40)
    message = models.TextField()
    data = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ("created_at", "id")
        verbose_name = "evento da transferência"
        verbose_name_plural = "eventos das transferências"

    def __str__(self) -> str:
        return f"{self.kind}: {self.message[:60]}"


class ChatwootCall(models.Model):
    """One row per Chatwoot request: the request without headers (the token lives only there)."""

    handoff = models.ForeignKey(Handoff, on_delete=models.SET_NULL, null=True, blank=True, related_name="calls")
    step = models.CharField("etapa", max_length=40, blank=True)
    method = models.CharField(max_length=10)
    path = models.CharField(max_length=500)
    status = models.PositiveSmallIntegerField(null=True, blank=True)
    duration_ms = models.PositiveIntegerField("duração (ms)")
    request = models.JSONField(null=True, blank=True)
    response = models.TextField(blank=True)
    error_class = models.CharField("erro", max_length=60, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ("-created_at", "-id")
        verbose_name = "chamada ao Chatwoot"
        verbose_name_plural = "chamadas ao Chatwoot"
        indexes = [models.Index(fields=["handoff", "created_at"], name="chatwootcall_handoff_idx")]

    def __str__(self) -> str:
        return f"{self.method} {self.path} → {self.status or self.error_class}"


class RoutingRule(models.Model):
    """Which agents get a lead: the first enabled rule (by position) whose conditions all match."""

    class Strategy(models.TextChoices):
        CHATWOOT = "chatwoot", "Deixar com o Chatwoot (auto-atribuição)"
        ROUND_ROBIN = "round_robin", "Rodízio"
        LEAST_LOADED = "least_loaded", "Menos ocupado"
        FIXED = "fixed", "Agente fixo (o primeiro da lista)"

    name = models.CharField("nome", max_length=100)
    position = models.PositiveIntegerField("ordem", default=0)
    enabled = models.BooleanField("ativa", default=True)
    min_score = models.PositiveSmallIntegerField("nota mínima", null=True, blank=True)
    max_score = models.PositiveSmallIntegerField("nota máxima", null=True, blank=True)
    interest_keywords = models.CharField(
        "palavras no interesse", max_length=500, blank=True, help_text="Separadas por vírgula; basta uma aparecer."
    )
    area_codes = models.CharField("DDDs", max_length=200, blank=True, help_text="Separados por vírgula, ex.: 11, 21")
    team_id = models.PositiveIntegerField("time no Chatwoot", null=True, blank=True)
    agent_ids = models.CharField(
        "agentes no Chatwoot",
        max_length=500,
        blank=True,
        help_text="Ids separados por vírgula. Vazio: os membros do time, ou da caixa de entrada.",
    )
    strategy = models.CharField("estratégia", max_length=20, choices=Strategy.choices, default=Strategy.ROUND_ROBIN)
    online_only = models.BooleanField(
        "só agentes online", default=False, help_text="Se ninguém estiver online, usa todos os candidatos."
    )

    class Meta:
        ordering = ("position", "id")
        verbose_name = "regra de roteamento"
        verbose_name_plural = "regras de roteamento"

    def __str__(self) -> str:
        return self.name


class RoundRobinCursor(models.Model):
    """Whose turn it is in a pool; its row lock keeps two workers from taking the same turn."""

    pool = models.CharField(max_length=100, unique=True)
    last_agent_id = models.BigIntegerField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.pool}: {self.last_agent_id}"


class ChatwootThrottle(models.Model):
    """Shared across workers when Redis is not configured: the pause after a 429 and the request budget window."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    paused_until = models.DateTimeField(null=True, blank=True)
    window_started_at = models.DateTimeField(null=True, blank=True)
    window_count = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return f"paused until {self.paused_until}"
