"""Who wrote a message Chatwoot reports: a human agent, or the bot and the company phone behind a user account."""

from dataclasses import dataclass

from django.conf import settings

from handoff.models import ChatwootInbox, ChatwootIntegrationUser, Handoff

# What Evolution mirrors from WhatsApp carries the WhatsApp message id (CHANNELS §2.3).
EVOLUTION_SOURCE_PREFIX = "WAID:"


@dataclass(frozen=True)
class Author:
    """Who posted a message, as its webhook says: the Chatwoot user (agents only), and the message's source_id."""

    user_id: int | None = None
    name: str = ""
    source_id: str = ""


def integration_user_is(author: Author) -> bool:
    """The message is the bot's or the company phone's: it came from WhatsApp through Evolution (WAID source id),
    or its user is one of CHATWOOT_INTEGRATION_USER_IDS or a confirmed integration user.

    A user seen posting from WhatsApp is recorded, unconfirmed, for the admin to confirm: judged by that one sign,
    a person whose token Evolution was given would lose every reply of theirs to "the bot".
    """
    if not author.user_id:
        return False
    if author.source_id.startswith(EVOLUTION_SOURCE_PREFIX):
        ChatwootIntegrationUser.objects.get_or_create(user_id=author.user_id, defaults={"name": author.name[:255]})
        return True
    configured = author.user_id in settings.CHATWOOT_INTEGRATION_USER_IDS
    return configured or _confirmed().filter(user_id=author.user_id).exists()


def first_reply_time_trusted(handoff: Handoff) -> bool:
    """Chatwoot's first_reply_created_at counts any user's first outgoing message, an integration user's too: it is
    believed only where none posts — not in an Evolution inbox (or an unknown one when Evolution inboxes exist), and
    not while integration users are configured or confirmed. Message events tell the first reply otherwise."""
    kind = ChatwootInbox.objects.kind_of(handoff.inbox_id or settings.CHATWOOT_INBOX_ID)
    evolution = ChatwootInbox.Kind.EVOLUTION
    if kind == evolution or (kind is None and ChatwootInbox.objects.filter(kind=evolution).exists()):
        return False
    return not settings.CHATWOOT_INTEGRATION_USER_IDS and not _confirmed().exists()


def _confirmed():
    return ChatwootIntegrationUser.objects.filter(confirmed=True)
