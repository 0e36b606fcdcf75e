"""Inbox rows by channel kind (E, CHANNELS §1): API (plain or Evolution's), native WhatsApp and email."""

import secrets
import uuid
from urllib.parse import quote

API, WHATSAPP, EMAIL = "Channel::Api", "Channel::Whatsapp", "Channel::Email"
# CHANNELS §1: Evolution points its API inbox's webhook at /chatwoot/webhook/<instance>.
EVOLUTION_WEBHOOK = "http://evolution.internal:8080/chatwoot/webhook/{instance}"
# CHANNELS §3 (conversations/message_window_service.rb): free text only within 24 h of the lead's last message.
REPLY_WINDOW_SECONDS = 24 * 3600


def inbox_row(
    inbox_id: int, name: str, account_id: int, now: float, *, channel_type=API, channel_id=None, channel=None
):
    """The inboxes table row; the channel's own columns live in `channel` (they are another table in Chatwoot)."""
    return {
        "id": inbox_id,
        "channel_id": inbox_id if channel_id is None else channel_id,
        "account_id": account_id,
        "name": name,
        "created_at": now,
        "updated_at": now,
        "channel_type": channel_type,
        "enable_auto_assignment": False,
        "greeting_enabled": False,
        "greeting_message": None,
        "lock_to_single_conversation": False,
        "allow_messages_after_resolved": True,
        "member_ids": [],
        "channel": api_channel(None) if channel is None else channel,
    }


def api_channel(webhook_url: str | None) -> dict:
    """Channel::Api: `identifier` is the inbox_identifier of the client API, `secret` signs its webhooks (F.6)."""
    token = secrets.token_urlsafe(18)[:24]
    return {"webhook_url": webhook_url, "identifier": str(uuid.uuid4()), "hmac_token": token, "secret": token[::-1]}


def whatsapp_channel(number: str, provider: str) -> dict:
    return {"phone_number": number, "provider": provider, "message_templates": [], "provider_config": {}}


def email_channel(email: str) -> dict:
    return {"email": email, "forward_to_email": f"{secrets.token_hex(8)}@sandbox.chatwoot.local"}


def evolution_webhook_url(instance: str) -> str:
    return EVOLUTION_WEBHOOK.format(instance=quote(instance, safe=""))


def inbox_add(store, name: str, channel_type: str, channel: dict) -> dict:
    """A new inbox of the account; channel ids count per channel table; the human members of the first inbox join it."""
    with store.lock:
        same_kind = [i["channel_id"] for i in store.inboxes if i["channel_type"] == channel_type]
        inbox_id = max(i["id"] for i in store.inboxes) + 1
        row = inbox_row(
            inbox_id,
            name,
            store.account["id"],
            store.now(),
            channel_type=channel_type,
            channel_id=max(same_kind, default=0) + 1,
            channel=channel,
        )
        row["member_ids"] = list(store.inboxes[0]["member_ids"])
        store.inboxes.append(row)
        return row


def conversation_can_reply(store, conversation: dict) -> bool:
    """CHANNELS §3: a WhatsApp inbox accepts free text only within 24 h of the lead's last incoming message."""
    inbox = store.find(store.inboxes, id=conversation["inbox_id"])
    if inbox is None or inbox["channel_type"] != WHATSAPP:
        return True
    incoming = [
        m["created_at"]
        for m in store.messages
        if m["conversation_id"] == conversation["display_id"] and m["message_type"] == 0
    ]
    return bool(incoming) and store.now() - max(incoming) < REPLY_WINDOW_SECONDS
