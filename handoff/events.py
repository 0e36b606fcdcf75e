"""What each Chatwoot event means for Nexa: a table from event name to a small handler (API-NOTES F).

Handlers only read the payload and call a service (handoff.services.conversations), which does the writes;
they run inside the transaction of the delivery being processed and return the service's SyncResult.
"""

import json

from django.utils import timezone

from handoff.chatwoot import Conversation, conversation_from, time_from
from handoff.services.authors import Author
from handoff.services.conversations import (
    EventIgnored,
    SyncResult,
    contact_details_apply,
    conversation_message_mirror,
    conversation_returned,
    conversation_state_apply,
)
from leads.models import MESSAGE_MAX_CHARS, Message
from leads.services import NewMessage

__all__ = ["HANDLERS", "EventIgnored", "conversation_display_id", "event_apply", "ignored_reason", "message_id"]


def event_apply(event: str, body: str) -> SyncResult:
    return HANDLERS[event](json.loads(body))


def conversation_display_id(payload: dict) -> int | None:
    """C.0: conversation events carry the display id as `id`; message events as `conversation.id`."""
    event = payload.get("event", "")
    if event.startswith("contact_"):
        return None
    return _int((payload.get("conversation") or {}).get("id") if event.startswith("message_") else payload.get("id"))


def message_id(payload: dict) -> int | None:
    return _int(payload.get("id")) if payload.get("event") == "message_created" else None


def conversation_changed(payload: dict) -> SyncResult:
    """conversation_status_changed / conversation_updated: the status is read from the body, always (F.2, F.4)."""
    return conversation_state_apply(_conversation(payload))


def ignored_reason(payload: dict) -> str | None:
    """Why a delivery needs no processing, read from its payload alone; None when it must be processed."""
    event = payload.get("event")
    if event not in HANDLERS:
        return "evento não usado pelo Nexa"
    if event == "message_created" and payload.get("private"):
        content = str(payload.get("content") or "")
        if "nexa-handoff:" in content or "nexa-escalation:" in content:
            return "a nota do próprio Nexa"
        return "nota privada: não vai para a transcrição"
    return None


def message_created(payload: dict) -> SyncResult:
    """Public messages go to the lead's transcript; private notes (Nexa's own among them) do not."""
    if reason := ignored_reason(payload):
        raise EventIgnored(reason)
    content = str(payload.get("content") or "")
    sender = _message_sender(payload)
    if sender is None:
        raise EventIgnored("mensagem de automação, sem remetente")
    message = NewMessage(
        sender=sender,
        content=(content or _attachments_text(payload))[:MESSAGE_MAX_CHARS],
        created_at=time_from(payload.get("created_at")) or timezone.now(),
        external_id=f"{Message.CHATWOOT_PREFIX}{payload['id']}",
    )
    author = payload.get("sender") or {}
    return conversation_message_mirror(
        display_id=conversation_display_id(payload),
        message=message,
        author=Author(
            user_id=_int(author.get("id")) if sender == Message.Sender.AGENT else None,
            name=str(author.get("name") or ""),
            source_id=str(payload.get("source_id") or ""),
        ),
    )


def conversation_created(payload: dict) -> SyncResult:
    contact_id = ((payload.get("meta") or {}).get("sender") or {}).get("id") or (
        payload.get("contact_inbox") or {}
    ).get("contact_id")
    return conversation_returned(conversation=_conversation(payload), contact_id=_int(contact_id))


def contact_updated(payload: dict) -> SyncResult:
    return contact_details_apply(
        contact_id=_int(payload.get("id")),
        name=str(payload.get("name") or "").strip(),
        email=str(payload.get("email") or "").strip(),
        phone=str(payload.get("phone_number") or ""),
    )


HANDLERS = {
    "conversation_status_changed": conversation_changed,
    "conversation_updated": conversation_changed,
    "message_created": message_created,
    "conversation_created": conversation_created,
    "contact_updated": contact_updated,
}


def _conversation(payload: dict) -> Conversation:
    """A conversation event's body has the API's conversation shape (C, F): the client's parser reads both."""
    if conversation_display_id(payload) is None:
        raise EventIgnored("conversa desconhecida")
    return conversation_from(payload)


def _message_sender(payload: dict) -> str | None:
    if payload.get("message_type") == "incoming":
        return Message.Sender.LEAD
    sender_type = (payload.get("sender") or {}).get("type")
    if sender_type == "user":
        return Message.Sender.AGENT
    if sender_type in ("agent_bot", "captain_assistant"):
        return Message.Sender.BOT
    return None


def _attachments_text(payload: dict) -> str:
    kinds = [str(item.get("file_type") or "arquivo") for item in payload.get("attachments") or []]
    return f"[anexo: {', '.join(kinds)}]" if kinds else "[mensagem sem texto]"


def _int(value) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None
