"""Leads qualified by Atlas Nexa, their bot conversations and messages."""

import uuid

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone

from leads.phones import phone_display, phone_identity

MESSAGE_MAX_CHARS = 64 * 1024


class LeadStatus(models.TextChoices):
    # The stored values are the seed's: its dashboard SQL filters on them.
    NOVO = "novo", "Novo"
    QUALIFICADO = "qualificado", "Qualificado"
    HANDED_OFF = "handed_off", "Em atendimento"
    CONVERTIDO = "convertido", "Convertido"
    PERDIDO = "perdido", "Perdido"


class Lead(models.Model):
    Status = LeadStatus

    CLOSED_STATUSES = (Status.CONVERTIDO, Status.PERDIDO)

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    external_id = models.CharField(  # noqa: DJ001 NULL, not "", so that unique applies only when present
        "id no Atlas", max_length=64, null=True, blank=True, help_text="O id do lead no Atlas Nexa, quando enviado."
    )
    name = models.CharField("nome", max_length=255, blank=True)
    phone = models.CharField(
        "telefone",
        max_length=20,
        unique=True,
        help_text="Formato E.164, como o WhatsApp do lead informa. Aceita qualquer formato ao salvar.",
    )
    phone_identity = models.CharField(
        max_length=20,
        unique=True,
        editable=False,
        help_text="Igual para um celular com e sem o 9: as duas grafias encontram o mesmo lead.",
    )
    email = models.EmailField("e-mail", blank=True)
    interest = models.CharField("interesse", max_length=500, blank=True)
    qualification_score = models.PositiveSmallIntegerField(
        "nota",
        null=True,
        blank=True,
        validators=[MinValueValidator(1), MaxValueValidator(10)],
        help_text="Qualificação dada pelo Atlas Nexa, de 1 a 10.",
    )
    status = models.CharField("situação", max_length=20, choices=LeadStatus.choices, default=LeadStatus.NOVO)
    chatwoot_contact_id = models.BigIntegerField("contato no Chatwoot", null=True, blank=True)
    chatwoot_conversation_id = models.BigIntegerField(
        "conversa no Chatwoot", null=True, blank=True, help_text="O número da conversa exibido no Chatwoot."
    )
    created_at = models.DateTimeField("criado em", default=timezone.now, editable=False)
    updated_at = models.DateTimeField("atualizado em", auto_now=True)
    closed_at = models.DateTimeField("encerrado em", null=True, blank=True)

    class Meta:
        ordering = ("-created_at", "-id")
        constraints = [
            models.UniqueConstraint(
                fields=["external_id"], condition=Q(external_id__isnull=False), name="lead_external_id_unique"
            ),
            models.CheckConstraint(
                condition=Q(qualification_score__isnull=True) | Q(qualification_score__range=(1, 10)),
                name="lead_score_1_to_10",
            ),
            models.CheckConstraint(condition=Q(status__in=LeadStatus.values), name="lead_status_known"),
        ]
        indexes = [
            # The admin's default ordering, and every date-range query of the dashboard: the included columns
            # let the dashboard's status and score counts read the index alone (an index-only scan).
            models.Index(
                fields=["created_at", "id"], include=["status", "qualification_score"], name="lead_created_cover_idx"
            ),
            models.Index(fields=["status", "created_at"], name="lead_status_created_idx"),
            models.Index(fields=["qualification_score", "created_at"], name="lead_score_created_idx"),
            models.Index(fields=["chatwoot_conversation_id"], name="lead_cw_conversation_idx"),
            models.Index(fields=["chatwoot_contact_id"], name="lead_cw_contact_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.name or 'Sem nome'} ({self.phone_formatted})"

    def save(self, *args, **kwargs) -> None:
        # Derived fields are kept here so that every write path (API, admin, shell) agrees.
        self.phone_identity = phone_identity(self.phone)
        if self.status in self.CLOSED_STATUSES:
            self.closed_at = self.closed_at or timezone.now()
        else:
            self.closed_at = None
        if kwargs.get("update_fields") is not None:
            kwargs["update_fields"] = {*kwargs["update_fields"], "phone_identity", "closed_at"}
        super().save(*args, **kwargs)

    @property
    def phone_formatted(self) -> str:
        return phone_display(self.phone)

    @property
    def is_closed(self) -> bool:
        return self.status in self.CLOSED_STATUSES


class BotConversation(models.Model):
    class Status(models.TextChoices):
        ACTIVE = "active", "Ativa"
        HANDED_OFF = "handed_off", "Transferida"
        CLOSED = "closed", "Encerrada"

    lead = models.ForeignKey(Lead, on_delete=models.CASCADE, related_name="conversations")
    status = models.CharField("situação", max_length=20, choices=Status.choices, default=Status.ACTIVE)
    started_at = models.DateTimeField("iniciada em", default=timezone.now, editable=False)
    last_message_at = models.DateTimeField("última mensagem", null=True, blank=True)
    messages_count = models.PositiveIntegerField("mensagens", default=0)
    handoff_at = models.DateTimeField("transferida em", null=True, blank=True)

    class Meta:
        ordering = ("-started_at", "-id")
        verbose_name = "conversa com o bot"
        verbose_name_plural = "conversas com o bot"
        constraints = [
            # A lead talks to the bot in one open conversation at a time.
            models.UniqueConstraint(
                fields=["lead"], condition=~Q(status="closed"), name="botconversation_one_open_per_lead"
            ),
        ]
        indexes = [models.Index(fields=["lead", "started_at"], name="botconv_lead_started_idx")]

    def __str__(self) -> str:
        return f"Conversa {self.pk} ({self.get_status_display()})"


class Message(models.Model):
    class Sender(models.TextChoices):
        BOT = "bot", "Bot"
        LEAD = "lead", "Lead"
        AGENT = "agent", "Agente"

    conversation = models.ForeignKey(
        BotConversation, on_delete=models.CASCADE, related_name="messages", verbose_name="conversa"
    )
    sender = models.CharField("remetente", max_length=10, choices=Sender.choices)
    content = models.TextField("conteúdo", max_length=MESSAGE_MAX_CHARS)
    created_at = models.DateTimeField("enviada em")
    external_id = models.CharField(  # noqa: DJ001 NULL, not "", so that unique applies only when present
        max_length=128,
        null=True,
        blank=True,
        help_text="O id da mensagem no remetente; uma repetição no mesmo lead é ignorada.",
    )

    class Meta:
        ordering = ("created_at", "id")
        verbose_name = "mensagem"
        verbose_name_plural = "mensagens"
        constraints = [
            # Scoped to the conversation: ids are the sender's, and two leads' senders may reuse them.
            models.UniqueConstraint(
                fields=["conversation", "external_id"],
                condition=Q(external_id__isnull=False),
                name="message_external_id_unique",
            ),
        ]
        indexes = [
            models.Index(fields=["conversation", "created_at"], name="message_conv_created_idx"),
            models.Index(fields=["created_at"], name="message_created_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.get_sender_display()}: {self.content[:60]}"
