"""Evolution API's Chatwoot integration in process: the lead's chat into an API inbox and replies back (CHANNELS §2).

Evolution works through Chatwoot's Application API with its integration user's token, so each step here is one
API call: its own transaction, its own webhooks.
"""

import secrets

from .contacts import contact_create, contact_update, contacts_filter
from .conversations import conversation_create, conversation_toggle_status
from .messages import message_create
from .state import ApiError, Store
from .world import EvolutionInstance, WhatsAppWorld, digits, number_variants

NOT_SENT = "🚨 A mensagem não foi enviada: {recipient} não é um número de WhatsApp válido."
COMMAND_CHAT = "123456"  # CHANNELS §2.1: Evolution's command channel, never touched
JID_SUFFIXES = ("@s.whatsapp.net", "@lid")
CONVERSATIONS_LISTED = 20  # C.2: GET /contacts/{id}/conversations answers at most 20


def evolution_message_in(store: Store, world: WhatsAppWorld, instance: EvolutionInstance, chat: dict) -> dict:
    """CHANNELS §2.2: a message of the WhatsApp chat `chat` {jid_digits, text, push_name, from_me}; from_me (§2.3) is
    the business side (Atlas) that Evolution mirrors as an outgoing message of its integration user."""
    with store.lock:  # Evolution handles one chat's messages in turn (its per-chat lock around createConversation)
        user = ("user", store.user(world.integration_user_id))
        contact = chat_contact(store, instance, chat["jid_digits"], "" if chat["from_me"] else chat["push_name"])
        conversation = chat_conversation(store, instance, contact, f"{chat['jid_digits']}@s.whatsapp.net", user)
        message = {"content": chat["text"], "source_id": f"WAID:{secrets.token_hex(10).upper()}"}  # the WhatsApp id
        if chat["from_me"]:
            message.update(sender=user, message_type="outgoing")
        else:
            message.update(sender=("contact", contact), message_type="incoming")
        with store.transaction():
            return message_create(store, conversation, **message)


def chat_contact(store: Store, instance: EvolutionInstance, jid_digits: str, push_name: str) -> dict:
    """CHANNELS §2.2: found by phone_number only (the JID's digits and their twin, sent without '+'), else created."""
    jid = f"{jid_digits}@s.whatsapp.net"
    variants = number_variants(jid_digits)
    conditions = [
        {"attribute_key": "phone_number", "filter_operator": "equal_to", "values": [v], "query_operator": "OR"}
        for v in variants
    ]
    conditions[-1]["query_operator"] = None
    # Several hits: Evolution keeps the contact whose phone is the longest variant, the 13-digit one with the 9
    # (its findContactInContactList), whichever form the JID has.
    rank = {f"+{v}": index for index, v in enumerate(sorted(variants, key=len, reverse=True))}
    with store.transaction():
        found = sorted(contacts_filter(store, conditions), key=lambda c: rank.get(c["phone_number"], len(rank)))
        if not found:
            fields = {"name": push_name or jid_digits, "phone_number": f"+{jid_digits}", "identifier": jid}
            return contact_create(store, {**fields, "inbox_id": instance.inbox_id})[0]
    contact = found[0]
    if contact["identifier"] != jid:
        try:
            with store.transaction():
                contact_update(store, contact, {"identifier": jid})  # §2.2: rewritten on every incoming message
        except ApiError:
            pass  # §2.2: another contact holds the JID; Evolution's merge attempt fails and nothing changes
    return contact


def chat_conversation(store: Store, instance: EvolutionInstance, contact: dict, jid: str, actor: tuple) -> dict:
    """CHANNELS §2.2: a live cache entry wins whatever the status; else the contact's conversations; else a new one."""
    now = store.now()
    cached = instance.cache.get(jid)
    if cached and cached[1] > now:
        conversation = store.find(store.conversations, display_id=cached[0])
        if conversation:
            return conversation
    with store.transaction():
        conversation = listed_conversation(store, instance, contact)
        reopening = conversation and instance.reopen_conversation and instance.conversation_pending
        if reopening and conversation["status"] != "open":
            conversation_toggle_status(store, conversation, {"status": "pending"}, actor)
    if conversation is None:
        status = "pending" if instance.conversation_pending else "open"
        params = {"contact_id": contact["id"], "inbox_id": instance.inbox_id, "status": status}  # no source_id
        with store.transaction():
            conversation = conversation_create(store, params, actor)
    instance.cache[jid] = (conversation["display_id"], now + instance.cache_seconds)
    return conversation


def listed_conversation(store: Store, instance: EvolutionInstance, contact: dict) -> dict | None:
    """C.2 order (newest activity first, 20 at most); the first in this inbox, non-resolved unless reopening."""
    rows = [c for c in store.conversations if c["contact_id"] == contact["id"]]
    rows.sort(key=lambda c: c["last_activity_at"], reverse=True)
    for conversation in rows[:CONVERSATIONS_LISTED]:
        wanted = instance.reopen_conversation or conversation["status"] != "resolved"
        if conversation["inbox_id"] == instance.inbox_id and wanted:
            return conversation
    return None


def evolution_message_out(store: Store, world: WhatsAppWorld, instance: EvolutionInstance, payload: dict) -> None:
    """CHANNELS §2.1: what Evolution does with a message_created that its inbox's webhook brings."""
    if payload["message_type"] not in ("outgoing", "template") or payload["private"] or mirrored(world, payload):
        return
    sender = payload["conversation"]["meta"]["sender"]
    chat = sender.get("identifier") or (sender.get("phone_number") or "").replace("+", "")
    recipient = chat.split("@")[0] if chat.endswith(JID_SUFFIXES) else digits(chat)
    if recipient == COMMAND_CHAT:
        return
    attempt = {"inbox_id": instance.inbox_id, "conversation_id": payload["conversation"]["id"], "via": "evolution"}
    attempt["content"] = payload["content"]
    whatsapp_id = world.on_whatsapp(recipient)
    if whatsapp_id:
        world.deliver(to=whatsapp_id, from_number=instance.number, **attempt)
        return
    note = NOT_SENT.format(recipient=recipient or chat)
    world.fail(to=recipient, reason=note, **attempt)
    evolution_user = ("user", store.user(world.integration_user_id))
    with store.transaction():
        conversation = store.conversation(attempt["conversation_id"])
        message_create(store, conversation, content=note, sender=evolution_user, private=True)


def mirrored(world: WhatsAppWorld, payload: dict) -> bool:
    """CHANNELS §2.3: Evolution's own posts (WAID source_id, integration user) are never sent back."""
    sender = payload.get("sender") or {}
    own = sender.get("type") == "user" and sender.get("id") == world.integration_user_id
    return own or str(payload.get("source_id") or "").startswith("WAID:")
