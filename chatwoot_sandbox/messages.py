"""Messages: creation limits, Liquid rendering of outgoing content and the conversation side effects (D)."""

import re

from .state import ApiError, Store

MESSAGE_TYPES = {"incoming": 0, "outgoing": 1, "activity": 2, "template": 3}
CONTENT_MAX = 150_000
PER_MINUTE_MAX = 200  # CONVERSATION_MESSAGE_PER_MINUTE_LIMIT default
SENDER_TYPES = {"user": "User", "bot": "AgentBot", "contact": "Contact"}
CODE = re.compile(r"(```.*?```|`[^`]*`)", re.S)
OUTPUT = re.compile(r"\{\{(.*?)\}\}", re.S)
TAG = re.compile(r"\{%.*?%\}", re.S)


def message_problem(store: Store, conversation: dict, content) -> tuple[str, str] | None:
    """The (attribute, message) a Message validation would fail with, or None."""
    if content is not None and len(str(content)) > CONTENT_MAX:
        return "content", f"Content is too long (maximum is {CONTENT_MAX} characters)"
    since = store.now() - 60
    recent = [
        m for m in store.messages if m["conversation_id"] == conversation["display_id"] and m["created_at"] > since
    ]
    if len(recent) >= PER_MINUTE_MAX:
        return "base", "Too many messages"
    return None


def message_create(
    store: Store, conversation: dict, *, content, sender, message_type="outgoing", private=False, **extra
):
    """Create a message as `sender` = ("user"|"bot"|"contact", row); D: failures are 422 {"error": ...}."""
    if message_type not in MESSAGE_TYPES or message_type == "activity":
        raise ApiError(422, {"error": f"'{message_type}' is not a valid message_type"})
    problem = message_problem(store, conversation, content)
    if problem:
        raise ApiError(422, {"error": f"Validation failed: {problem[1]}"})
    kind, who = sender
    if content and message_type in ("outgoing", "template"):
        content = liquid_render(str(content), liquid_drops(store, conversation, who if kind == "user" else None))
    message = message_row(store, conversation, content, MESSAGE_TYPES[message_type], bool(private), sender, extra)
    store.messages.append(message)
    conversation["last_activity_at"] = message["created_at"]  # update_columns: fires no webhook (F.2)
    store.emit("message_created", "message", message["id"])
    if message_type == "incoming":
        contact_message_effects(store, conversation, message)
    elif not private and kind in ("user", "bot"):
        reply_effects(store, conversation, message, kind)
    return message


def activity_create(store: Store, conversation: dict, content: str) -> dict:
    """C.3: status and assignment changes leave an activity message; it never reaches webhooks."""
    message = message_row(store, conversation, content, MESSAGE_TYPES["activity"], False, (None, None), {})
    store.messages.append(message)
    return message


def message_row(store, conversation, content, message_type: int, private: bool, sender, extra: dict) -> dict:
    kind, who = sender
    now = store.now()
    row = {"id": store.next_id("message"), "content": content, "account_id": store.account["id"]}
    row.update(inbox_id=conversation["inbox_id"], conversation_id=conversation["display_id"])
    row.update(message_type=message_type, created_at=now, updated_at=now, private=private, status="sent")
    row.update(source_id=extra.get("source_id"), content_type=extra.get("content_type") or "text")
    row.update(content_attributes=extra.get("content_attributes") or {}, sender_type=SENDER_TYPES.get(kind))
    row.update(sender_id=who["id"] if who else None, external_source_ids={}, additional_attributes={})
    row.update(processed_message_content=content, sentiment={}, echo_id=extra.get("echo_id"))
    return row


def contact_message_effects(store: Store, conversation: dict, message: dict) -> None:
    """D: an incoming message reopens a resolved or snoozed conversation, sets waiting_since and bumps the contact."""
    changes = {}
    if conversation["status"] in ("resolved", "snoozed") and not conversation["muted"]:
        changes.update(status="open", snoozed_until=None)
    if not conversation["waiting_since"]:
        changes["waiting_since"] = message["created_at"]
    if "status" in store.conversation_change(conversation, **changes):
        activity_create(store, conversation, "System reopened the conversation due to a new incoming message.")
    contact = store.contact(message["sender_id"])
    store.contact_change(contact, last_activity_at=message["created_at"])  # F.2: fires contact_updated


def reply_effects(store: Store, conversation: dict, message: dict, kind: str) -> None:
    """D: the first human reply sets first_reply_created_at; human and bot replies clear waiting_since."""
    changes = {"waiting_since": None}
    if kind == "user" and conversation["first_reply_created_at"] is None:
        changes["first_reply_created_at"] = message["created_at"]
    store.conversation_change(conversation, **changes)


def liquid_drops(store: Store, conversation: dict, agent: dict | None) -> dict:
    contact = store.contact(conversation["contact_id"])
    first, _, last = (contact["name"] or "").partition(" ")
    drops = {"contact": {"name": contact["name"], "first_name": first, "last_name": last, "id": contact["id"]}}
    drops["contact"].update(email=contact["email"] or "", phone_number=contact["phone_number"] or "")
    if agent:
        first, _, last = agent["name"].partition(" ")
        drops["agent"] = {"name": agent["name"], "first_name": first, "last_name": last, "email": agent["email"]}
    drops["inbox"] = {"id": conversation["inbox_id"], "name": store.inbox(conversation["inbox_id"])["name"]}
    drops["conversation"] = {"id": conversation["display_id"], "display_id": conversation["display_id"]}
    drops["account"] = dict(store.account)
    return drops


def liquid_render(content: str, drops: dict) -> str:
    """D: outgoing content goes through Liquid; text in backticks is left alone.

    Simplified: `{{ path | filters }}` renders the drop (unknown → ""), tags and stray delimiters are dropped,
    so content that a client forgot to neutralise comes out visibly different.
    """
    parts = CODE.split(content)
    for index in range(0, len(parts), 2):
        text = OUTPUT.sub(lambda match: liquid_lookup(drops, match.group(1)), parts[index])
        text = TAG.sub("", text)
        parts[index] = text.replace("{{", "").replace("{%", "")
    return "".join(parts)


def liquid_lookup(drops: dict, expression: str) -> str:
    value = drops
    for name in expression.split("|")[0].strip().split("."):
        value = value.get(name) if isinstance(value, dict) else None
    return "" if value is None or isinstance(value, dict) else str(value)
