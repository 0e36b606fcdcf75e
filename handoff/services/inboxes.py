"""The account's inboxes: refreshed from Chatwoot, resolved from what Atlas names, chosen for each handoff."""

import logging

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone

from handoff.chatwoot import ChatwootClient, ChatwootConfigurationError, Inbox
from handoff.models import ChatwootInbox
from handoff.routing import rule_for
from handoff.services.chatwoot import CHATWOOT_UNAVAILABLE, chatwoot_for
from leads.models import Lead

logger = logging.getLogger(__name__)
FRESH_KEY, REFRESHING_KEY = "nexa:inboxes:fresh", "nexa:inboxes:refreshing"
FRESH_SECONDS = 60  # an inbox list this recent is the verdict on an unknown instance or id


class InboxesUnavailable(Exception):
    """Nexa does not know the inbox Atlas named and could not ask Chatwoot now: no verdict; try again shortly."""


class InboxUnknown(Exception):
    """Atlas named an inbox Nexa does not know or may not use; `field` is the request field to blame."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field


def inboxes_refresh(client: ChatwootClient | None = None) -> list[ChatwootInbox]:
    """Every inbox of the account, stored with its kind; what an admin set (enabled, an Evolution number) is kept."""
    found = (client or chatwoot_for(step="inboxes")).inboxes()
    now = timezone.now()
    with transaction.atomic():
        rows = [_inbox_store(inbox, now) for inbox in found]
        ChatwootInbox.objects.exclude(pk__in=[inbox.id for inbox in found]).update(present=False, refreshed_at=now)
    cache.set(FRESH_KEY, True, FRESH_SECONDS)
    return rows


def inboxes_refresh_scheduled() -> int:
    """The hourly refresh: how many inboxes Chatwoot has; 0 when it is not configured or not answering."""
    try:
        return len(inboxes_refresh())
    except CHATWOOT_UNAVAILABLE as err:
        logger.info("inboxes not refreshed: %s", err)
        return 0


def _inbox_store(inbox: Inbox, now) -> ChatwootInbox:
    fields = {
        "name": inbox.name[:255],
        "kind": inbox.kind,
        "channel_type": inbox.channel_type[:60],
        "instance": inbox.instance[:100],
        "webhook_url": inbox.webhook_url[:500],
        "auto_assignment": inbox.auto_assignment,
        "present": True,
        "refreshed_at": now,
    }
    if inbox.phone_number:  # Chatwoot knows a native WhatsApp inbox's number; an Evolution one's is typed in
        fields["phone_number"] = inbox.phone_number[:20]
    row, _ = ChatwootInbox.objects.update_or_create(pk=inbox.id, defaults=fields)
    return row


def inbox_resolve(*, instance: str = "", inbox_id: int | None = None) -> ChatwootInbox:
    """The inbox Atlas named by Evolution instance or by Chatwoot id; InboxUnknown naming the field otherwise.

    An inbox created in Chatwoot since the last refresh is found by refreshing (Nexa asks Chatwoot at most once a
    minute per process); InboxesUnavailable when Chatwoot could not be asked, rather than a wrong "unknown".
    """
    field = "instance" if instance else "inbox_id"
    inbox = _inbox_named(instance, inbox_id)
    if inbox is None and not cache.get(FRESH_KEY):
        if not cache.add(REFRESHING_KEY, True, 10):
            raise InboxesUnavailable("as caixas do Chatwoot estão sendo atualizadas")
        try:
            inboxes_refresh()
        except ChatwootConfigurationError:
            pass  # no Chatwoot at all: no inbox can exist
        except CHATWOOT_UNAVAILABLE as err:
            raise InboxesUnavailable(str(err)) from err
        finally:
            cache.delete(REFRESHING_KEY)
        inbox = _inbox_named(instance, inbox_id)
    named = f"a instância {instance!r}" if instance else f"a caixa {inbox_id}"
    if inbox is None:
        raise InboxUnknown(field, f"O Chatwoot não tem {named} (`manage.py chatwoot_inboxes` lista as caixas).")
    if not inbox.served:
        raise InboxUnknown(field, f"O Nexa não transfere para {named}: {inbox_refusal(inbox)}.")
    if instance and inbox_id and inbox.pk != inbox_id:
        raise InboxUnknown("inbox_id", f"A caixa {inbox_id} não é a da instância {instance!r} ({inbox.pk}).")
    return inbox


def _inbox_named(instance: str, inbox_id: int | None) -> ChatwootInbox | None:
    if instance:
        # Evolution re-creating an instance's inbox leaves the old one behind: the one Nexa may use wins.
        return ChatwootInbox.objects.filter(instance=instance).order_by("-present", "-enabled", "-pk").first()
    return ChatwootInbox.objects.filter(pk=inbox_id).first()


def inbox_refusal(inbox: ChatwootInbox) -> str:
    if inbox.kind == ChatwootInbox.Kind.UNSUPPORTED:
        return f"o canal {inbox.channel_type} não leva respostas ao WhatsApp"
    if not inbox.present:
        return "ela não existe mais no Chatwoot"
    return "ela está desligada no admin do Nexa"


def handoff_inbox_choose(lead: Lead, requested: int | None = None) -> int:
    """Where a handoff goes: the inbox asked for, else the lead's own (the number it wrote to, CHANNELS §5), else
    the first matching routing rule's when it names one, else CHATWOOT_INBOX_ID."""
    if requested:
        return requested
    if lead.chatwoot_inbox_id:
        return lead.chatwoot_inbox_id
    rule = rule_for(lead)  # the same rule routing will apply, so its team and agents serve this inbox
    return rule.inbox_id if rule and rule.inbox_id else settings.CHATWOOT_INBOX_ID


def inbox_for_handoff(inbox_id: int, client: ChatwootClient) -> ChatwootInbox | None:
    """The handoff's inbox as Nexa knows it; refreshed from Chatwoot with the handoff's client when unknown."""
    inbox = ChatwootInbox.objects.filter(pk=inbox_id).first()
    if inbox is None:
        inboxes_refresh(client)
        inbox = ChatwootInbox.objects.filter(pk=inbox_id).first()
    return inbox
