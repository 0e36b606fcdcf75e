"""Chatwoot's own WhatsApp channel (Channel::Whatsapp, CHANNELS §3): incoming by wa_id, replies to the source_id."""

import secrets

from .contacts import contact_create, contact_inbox_find_or_create
from .conversations import conversation_create
from .inboxes import conversation_can_reply
from .messages import message_create
from .state import Store
from .world import WhatsAppWorld, number_variants

# CHANNELS §3: outside the 24 h window Chatwoot marks the reply failed instead of sending it.
WINDOW_CLOSED = (
    "Message not sent: more than 24 hours have passed since the customer's last message; "
    "a WhatsApp template message is required"
)
UNDELIVERABLE = "(#131026) Message undeliverable: the recipient is not a WhatsApp user"


def whatsapp_message_in(store: Store, inbox: dict, wa_id: str, text: str, push_name: str) -> dict:
    """CHANNELS §3 (incoming_message_service_helpers.rb): contact_inbox by wa_id, its conversation, the message."""
    with store.transaction():
        contact_inbox = wa_contact_inbox(store, inbox, wa_id, push_name)
        conversation = wa_conversation(store, inbox, contact_inbox)
        contact = store.contact(contact_inbox["contact_id"])
        source_id = f"wamid.{secrets.token_hex(16).upper()}"
        return message_create(
            store, conversation, content=text, sender=("contact", contact), message_type="incoming", source_id=source_id
        )


def wa_contact_inbox(store: Store, inbox: dict, wa_id: str, push_name: str) -> dict:
    """The contact_inbox whose source_id is the wa_id (a Brazilian 12-digit wa_id finds a 13-digit one), else new."""
    for source_id in number_variants(wa_id):
        row = store.find(store.contact_inboxes, inbox_id=inbox["id"], source_id=source_id)
        if row:
            return row
    # ContactInboxWithContactBuilder: an existing contact with this exact phone gets the new contact_inbox.
    contact = store.find(store.contacts, phone_number=f"+{wa_id}")
    if contact is None:
        contact = contact_create(store, {"name": push_name or wa_id, "phone_number": f"+{wa_id}"})[0]
    return contact_inbox_find_or_create(store, contact, inbox, wa_id)


def wa_conversation(store: Store, inbox: dict, contact_inbox: dict) -> dict:
    """The contact_inbox's last conversation that is not resolved (any last one when locked to one), else a new one."""
    rows = [c for c in store.conversations if c["contact_inbox_id"] == contact_inbox["id"]]
    if not inbox["lock_to_single_conversation"]:
        rows = [c for c in rows if c["status"] != "resolved"]
    if rows:
        return rows[-1]
    params = {"inbox_id": inbox["id"], "contact_id": contact_inbox["contact_id"]}
    return conversation_create(store, {**params, "source_id": contact_inbox["source_id"]}, None)


def whatsapp_message_out(store: Store, world: WhatsAppWorld, inbox: dict, message_id: int) -> None:
    """CHANNELS §3 (send_on_whatsapp_service.rb): a public reply goes to contact_inbox.source_id within 24 h."""
    message = store.find(store.messages, id=message_id)
    if message is None or message["private"] or message["message_type"] not in (1, 3):
        return
    conversation = store.conversation(message["conversation_id"])
    to = store.find(store.contact_inboxes, id=conversation["contact_inbox_id"])["source_id"]
    attempt = {"inbox_id": inbox["id"], "conversation_id": conversation["display_id"], "content": message["content"]}
    attempt["via"] = inbox["channel"]["provider"]
    if not conversation_can_reply(store, conversation):
        return message_failed(store, world, message, to, attempt, WINDOW_CLOSED)
    whatsapp_id = world.on_whatsapp(to)
    if whatsapp_id is None:
        return message_failed(store, world, message, to, attempt, UNDELIVERABLE)
    world.deliver(to=whatsapp_id, from_number=inbox["channel"]["phone_number"], **attempt)
    with store.transaction():
        store.message_change(message, source_id=f"wamid.{secrets.token_hex(16).upper()}")  # the provider's id


def message_failed(store: Store, world: WhatsAppWorld, message: dict, to: str, attempt: dict, reason: str) -> None:
    """D: status "failed" with content_attributes.external_error, which fires message_updated (F.2)."""
    world.fail(to=to, reason=reason, **attempt)
    with store.transaction():
        attributes = {**message["content_attributes"], "external_error": reason}
        store.message_change(message, status="failed", content_attributes=attributes)
