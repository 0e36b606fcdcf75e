"""Inbox kinds and who carries their messages to WhatsApp: Evolution, Chatwoot itself, or nobody (CHANNELS §1)."""

import logging

from . import inboxes
from .contacts import E164
from .evolution import evolution_message_in, evolution_message_out
from .state import ApiError, Store
from .whatsapp import whatsapp_message_in, whatsapp_message_out
from .world import EvolutionInstance, WhatsAppWorld, digits

logger = logging.getLogger("chatwoot_sandbox")

KIND_LABELS = {"evolution": "Evolution API", "whatsapp": "WhatsApp", "api": "API", "email": "Email", "other": "Other"}


def inbox_kind(world: WhatsAppWorld, inbox: dict) -> str:
    """CHANNELS §1: an API inbox is Evolution's when an Evolution instance listens on its webhook_url."""
    if inbox["channel_type"] == inboxes.API:
        return "evolution" if inbox["id"] in world.evolution else "api"
    return {inboxes.WHATSAPP: "whatsapp", inboxes.EMAIL: "email"}.get(inbox["channel_type"], "other")


def inbox_number(world: WhatsAppWorld, inbox: dict) -> str | None:
    """CHANNELS §5: the business WhatsApp number an inbox speaks from, if any."""
    instance = world.evolution.get(inbox["id"])
    return instance.number if instance else inbox["channel"].get("phone_number")


# --- adding inboxes ---


def evolution_inbox_add(store: Store, world: WhatsAppWorld, *, instance: str, number: str, name=None, **options):
    """CHANNELS §1, §2: an API inbox named after the instance, its webhook on Evolution, and Evolution's user."""
    number_check(store, world, number)
    if not instance or any(i.instance == instance for i in world.evolution.values()):
        raise ValueError(f"Evolution instance names must be given and unique; got {instance!r}")
    with store.lock:
        channel = inboxes.api_channel(inboxes.evolution_webhook_url(instance))
        inbox = inboxes.inbox_add(store, name or instance, inboxes.API, channel)
        world.evolution[inbox["id"]] = EvolutionInstance(inbox["id"], instance, number, **options)
        if world.integration_user_id is None:
            world.integration_user_id = integration_user_add(store)["id"]
        return inbox


def integration_user_add(store: Store) -> dict:
    """CHANNELS §2: Evolution calls the API with an administrator's token; no inbox member, never online."""
    options = {"role": "administrator", "availability": "offline", "inbox_member": False}
    return store.user_add(
        "Evolution API", "evolution@nexa.example", token=f"{store.config['token']}-evolution", **options
    )


def whatsapp_inbox_add(store: Store, world: WhatsAppWorld, *, number: str, name=None, provider="whatsapp_cloud"):
    """CHANNELS §1, §3: a Channel::Whatsapp inbox for the business number."""
    if provider not in ("whatsapp_cloud", "default"):
        raise ValueError(f"provider must be whatsapp_cloud or default (360dialog); got {provider!r}")
    number_check(store, world, number)
    channel = inboxes.whatsapp_channel(number, provider)
    return inboxes.inbox_add(store, name or f"WhatsApp {number}", inboxes.WHATSAPP, channel)


def email_inbox_add(store: Store, world: WhatsAppWorld, *, email: str, name=None):
    return inboxes.inbox_add(store, name or email, inboxes.EMAIL, inboxes.email_channel(email))


def number_check(store: Store, world: WhatsAppWorld, number: str) -> None:
    """CHANNELS §5: one business number per inbox, in strict E.164."""
    if not E164.fullmatch(number or ""):
        raise ValueError(f"the business number must be E.164 like +5511900001111; got {number!r}")
    if any(inbox_number(world, inbox) == number for inbox in store.inboxes):
        raise ValueError(f"{number} already has an inbox")


# --- the lead's side ---


def lead_writes(
    store: Store, world: WhatsAppWorld, inbox_id: int, phone: str, text: str, *, push_name="", jid_digits=None
):
    """The lead with WhatsApp number `phone` writes to the inbox's business number; the Chatwoot message it becomes."""
    inbox = whatsapp_inbox(store, world, inbox_id)
    if not E164.fullmatch(phone or ""):
        raise ValueError(f"the lead's phone must be E.164 like +5511987654321; got {phone!r}")
    jid_digits = jid_digits or digits(phone)
    with store.lock:
        world.register(phone, jid_digits)
    if inbox_kind(world, inbox) == "whatsapp":
        return whatsapp_message_in(store, inbox, jid_digits, text, push_name)  # §3: the wa_id is the JID's digits
    chat = {"jid_digits": jid_digits, "text": text, "push_name": push_name, "from_me": False}
    return evolution_message_in(store, world, world.evolution[inbox_id], chat)


def bot_replies(store: Store, world: WhatsAppWorld, inbox_id: int, phone: str, text: str) -> dict:
    """CHANNELS §2.3: Atlas answers through Evolution; WhatsApp delivers it and Evolution mirrors it as outgoing."""
    inbox = whatsapp_inbox(store, world, inbox_id)
    instance = world.evolution.get(inbox["id"])
    if instance is None:
        raise ValueError(f"inbox {inbox_id} is not an Evolution inbox")
    with store.lock:
        jid_digits = world.jid_digits(phone)
        world.register(phone, jid_digits)
    chat = {"jid_digits": jid_digits, "text": text, "push_name": "", "from_me": True}
    message = evolution_message_in(store, world, instance, chat)
    delivery = {"inbox_id": inbox["id"], "conversation_id": message["conversation_id"], "content": text}
    with store.lock:
        world.deliver(to=jid_digits, from_number=instance.number, via="evolution", **delivery)
    return message


def whatsapp_inbox(store: Store, world: WhatsAppWorld, inbox_id: int) -> dict:
    with store.lock:
        inbox = store.find(store.inboxes, id=inbox_id)
        if inbox is None or inbox_kind(world, inbox) not in ("evolution", "whatsapp"):
            raise ValueError(f"inbox {inbox_id} is not a WhatsApp inbox (Evolution or native)")
        return inbox


# --- after commit: the channel's side of Chatwoot's message events ---


def replies_deliver(store: Store, world: WhatsAppWorld, payloads: list) -> None:
    """F.1, CHANNELS §2.1 and §3: once a message is committed, Evolution (through the API inbox's webhook) or
    Chatwoot's WhatsApp job sends it on; their own API calls commit separately and never fail the request."""
    for payload in payloads:
        if payload["event"] != "message_created":
            continue
        inbox = store.find(store.inboxes, id=payload["inbox"]["id"])
        kind = inbox_kind(world, inbox) if inbox else None
        try:
            if kind == "evolution":
                evolution_message_out(store, world, world.evolution[inbox["id"]], payload)
            elif kind == "whatsapp":
                whatsapp_message_out(store, world, inbox, payload["id"])
        except ApiError as error:
            logger.warning("Sandbox %s delivery of message %s failed: %s", kind, payload["id"], error.body)
