"""Leads qualified by Atlas Nexa, their bot conversations and messages."""

import uuid

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from leads.phones import phone_display, phone_identity

MESSAGE_MAX_CHARS = 64 * 1024


class LeadStatus(models.TextChoices):
    # The stored values are the seed's: its dashboard SQL filters on them.
    NOVO = "novo", _("New")
    QUALIFICADO = "qualificado", _("Qualified")
    HANDED_OFF = "handed_off", _("With an agent")
    CONVERTIDO = "convertido", _("Converted")
    PERDIDO = "perdido", _("Lost")


class Lead(models.Model):
    Status = LeadStatus

    CLOSED_STATUSES = (Status.CONVERTIDO, Status.PERDIDO)

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    external_id = models.CharField(  # noqa: DJ001 NULL, not "", so that unique applies only when present
        _("Atlas id"),
        max_length=64,
        null=True,
        blank=True,
        help_text=_("The lead's id in Atlas Nexa, when sent."),
    )
    name = models.CharField(_("name"), max_length=255, blank=True)
    phone = models.CharField(
        _("phone"),
        max_length=20,
        unique=True,
        help_text=_("E.164 format, as the lead's WhatsApp reports it. Any format is accepted when saving."),
    )
    phone_identity = models.CharField(
        max_length=20,
        unique=True,
        editable=False,
        help_text=_("The same for a mobile number with and without the 9: both spellings find the same lead."),
    )
    email = models.EmailField(_("email"), blank=True)
    interest = models.CharField(_("interest"), max_length=500, blank=True)
    qualification_score = models.PositiveSmallIntegerField(
        _("score"),
        null=True,
        blank=True,
        validators=[MinValueValidator(1), MaxValueValidator(10)],
        help_text=_("Qualification given by Atlas Nexa, from 1 to 10."),
    )
    status = models.CharField(_("status"), max_length=20, choices=LeadStatus.choices, default=LeadStatus.NOVO)
    chatwoot_contact_id = models.BigIntegerField(_("Chatwoot contact"), null=True, blank=True)
    chatwoot_inbox_id = models.BigIntegerField(
        _("Chatwoot inbox"),
        null=True,
        blank=True,
        help_text=_("The inbox (WhatsApp number) the lead talks to; its handoffs go there unless told otherwise."),
    )
    chatwoot_conversation_id = models.BigIntegerField(
        _("Chatwoot conversation"), null=True, blank=True, help_text=_("The conversation number shown in Chatwoot.")
    )
    # Portuguese gives "created at" and "updated at" the gender of what they describe: a lead is masculine.
    created_at = models.DateTimeField(pgettext_lazy("lead", "created at"), default=timezone.now, editable=False)
    updated_at = models.DateTimeField(pgettext_lazy("lead", "updated at"), auto_now=True)
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True)

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
        name = self.name or _("No name")
        return f"{name} ({self.phone_formatted})"

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
        ACTIVE = "active", _("Active")
        HANDED_OFF = "handed_off", _("Handed off")
        CLOSED = "closed", _("Closed")

    lead = models.ForeignKey(Lead, on_delete=models.CASCADE, related_name="conversations")
    status = models.CharField(_("status"), max_length=20, choices=Status.choices, default=Status.ACTIVE)
    started_at = models.DateTimeField(_("started at"), default=timezone.now, editable=False)
    last_message_at = models.DateTimeField(_("last message"), null=True, blank=True)
    messages_count = models.PositiveIntegerField(_("messages"), default=0)
    handoff_at = models.DateTimeField(_("handed off at"), null=True, blank=True)

    class Meta:
        ordering = ("-started_at", "-id")
        verbose_name = _("bot conversation")
        verbose_name_plural = _("bot conversations")
        constraints = [
            # A lead talks to the bot in one open conversation at a time.
            models.UniqueConstraint(
                fields=["lead"], condition=~Q(status="closed"), name="botconversation_one_open_per_lead"
            ),
        ]
        indexes = [models.Index(fields=["lead", "started_at"], name="botconv_lead_started_idx")]

    def __str__(self) -> str:
        return _("Conversation {id} ({status})").format(id=self.pk, status=self.get_status_display())


class Message(models.Model):
    class Sender(models.TextChoices):
        BOT = "bot", _("Bot")
        LEAD = "lead", _("Lead")
        AGENT = "agent", _("Agent")

    conversation = models.ForeignKey(
        BotConversation, on_delete=models.CASCADE, related_name="messages", verbose_name=_("conversation")
    )
    sender = models.CharField(_("sender"), max_length=10, choices=Sender.choices)
    content = models.TextField(_("content"), max_length=MESSAGE_MAX_CHARS)
    created_at = models.DateTimeField(_("sent at"))
    external_id = models.CharField(  # noqa: DJ001 NULL, not "", so that unique applies only when present
        max_length=128,
        null=True,
        blank=True,
        help_text=_("The message's id at its sender; a repeat within the same lead is ignored."),
    )
    agent_name = models.CharField(_("agent"), max_length=255, blank=True, help_text=_("Who wrote an agent's message."))
    handoff = models.ForeignKey(
        "handoff.Handoff",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="messages",
        help_text=_("The handoff whose Chatwoot conversation the message came from."),
    )

    CHATWOOT_PREFIX = "chatwoot:"  # external_id of a message mirrored from Chatwoot: "chatwoot:<message id>"

    class Meta:
        ordering = ("created_at", "id")
        verbose_name = _("message")
        verbose_name_plural = _("messages")
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

    @property
    def chatwoot_message_id(self) -> int | None:
        number = (self.external_id or "").removeprefix(self.CHATWOOT_PREFIX)
        if (
            self.external_id
            and self.external_id.startswith(self.CHATWOOT_PREFIX)
            and number.isascii()
            and number.isdigit()
        ):
            return int(number)
        return None


class ApiScope(models.TextChoices):
    """What an API key may do. Each API operation names the one it needs (`required_scopes` on its view)."""

    LEADS_READ = "leads:read", _("Read leads and their transcripts")
    LEADS_WRITE = "leads:write", _("Write leads and messages, trigger handoffs")
    METRICS_READ = "metrics:read", _("Read the metrics")


class ApiKeyAccess(models.Model):
    """The scopes of an API key. A key without one (every key made before scopes existed) may do everything."""

    api_key = models.OneToOneField(
        "rest_framework_api_key.APIKey", on_delete=models.CASCADE, primary_key=True, related_name="access"
    )
    scopes = models.JSONField(_("scopes"), default=list, blank=True, help_text=_("What this key may do."))

    class Meta:
        verbose_name = _("API key scopes")
        verbose_name_plural = _("API key scopes")

    def __str__(self) -> str:
        return ", ".join(self.scopes) or "—"
