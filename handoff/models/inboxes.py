"""The account's Chatwoot inboxes as Nexa knows them: which kind each is, and which WhatsApp number it answers from."""

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class ChatwootInboxQuerySet(models.QuerySet):
    def served(self):
        """The inboxes Nexa may hand off into: a kind it serves, enabled, still in Chatwoot."""
        return self.filter(kind__in=ChatwootInbox.SERVED_KINDS, enabled=True, present=True)

    def kind_of(self, inbox_id: int | None) -> str | None:
        return self.filter(pk=inbox_id).values_list("kind", flat=True).first() if inbox_id else None


class ChatwootInbox(models.Model):
    """One inbox of the Chatwoot account, refreshed from GET /inboxes (CHANNELS §1).

    Who carries an agent's reply to the lead's WhatsApp depends on the kind: Evolution API for its API inboxes,
    Chatwoot itself for a native WhatsApp inbox, nobody for a plain API inbox (unless something listens on it).
    """

    class Kind(models.TextChoices):
        EVOLUTION = "evolution", _("Evolution API (WhatsApp)")
        WHATSAPP = "whatsapp", _("Chatwoot's WhatsApp inbox")
        API = "api", _("Plain API inbox")
        UNSUPPORTED = "unsupported", _("Not usable by Nexa")

    SERVED_KINDS = (Kind.EVOLUTION, Kind.WHATSAPP, Kind.API)

    id = models.BigIntegerField(_("Chatwoot inbox"), primary_key=True)
    name = models.CharField(_("name"), max_length=255)
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    channel_type = models.CharField(_("channel"), max_length=60)
    phone_number = models.CharField(
        _("WhatsApp number"),
        max_length=20,
        blank=True,
        help_text=_("The business number replies go out from: Chatwoot's for a WhatsApp inbox; type it for Evolution."),
    )
    instance = models.CharField(
        _("Evolution instance"),
        max_length=100,
        blank=True,
        db_index=True,
        help_text=_("From the inbox's webhook URL (/chatwoot/webhook/<instance>): what n8n receives from Evolution."),
    )
    webhook_url = models.CharField(_("webhook URL"), max_length=500, blank=True)
    auto_assignment = models.BooleanField(
        _("Chatwoot's automatic assignment"), default=False, help_text=_("Chatwoot assigns new conversations itself.")
    )
    enabled = models.BooleanField(
        _("Nexa may hand off into it"), default=True, help_text=_("Off: Nexa refuses to hand leads off into it.")
    )
    present = models.BooleanField(
        _("in Chatwoot"), default=True, help_text=_("Off when the last refresh no longer found it in Chatwoot.")
    )
    refreshed_at = models.DateTimeField(_("refreshed at"), default=timezone.now)

    objects = ChatwootInboxQuerySet.as_manager()

    class Meta:
        ordering = ("id",)
        verbose_name = _("Chatwoot inbox")
        verbose_name_plural = _("Chatwoot inboxes")

    def __str__(self) -> str:
        number = f", {self.phone_number}" if self.phone_number else ""
        return f"{self.name} ({self.id}{number})"

    @property
    def served(self) -> bool:
        """Nexa can hand off into it: a kind it serves, enabled, and still in Chatwoot."""
        return self.kind in self.SERVED_KINDS and self.enabled and self.present


class ChatwootIntegrationUser(models.Model):
    """A Chatwoot user whose messages are the bot's or the company phone's, never a human's (CHANNELS §2.3).

    Evolution API posts what it mirrors from WhatsApp (the bot's replies, messages typed on the phone) as outgoing
    messages of the user whose token it holds, with source_id "WAID:…": such a user is recorded here, unconfirmed,
    the first time one arrives. Confirmed users, and CHATWOOT_INTEGRATION_USER_IDS, are the bot in every message.
    """

    user_id = models.BigIntegerField(_("Chatwoot user"), primary_key=True)
    name = models.CharField(_("name"), max_length=255, blank=True)
    confirmed = models.BooleanField(
        _("confirmed"),
        default=False,
        help_text=_(
            "On: every message of this user is the bot's. Off (found by itself): only its messages that came "
            "from WhatsApp (source_id WAID:…) are; confirm it once you know it is Evolution's user and no agent."
        ),
    )
    discovered_at = models.DateTimeField(_("discovered at"), default=timezone.now)

    class Meta:
        verbose_name = _("Chatwoot integration user")
        verbose_name_plural = _("Chatwoot integration users")

    def __str__(self) -> str:
        return f"{self.name or self.user_id} ({self.user_id})"
