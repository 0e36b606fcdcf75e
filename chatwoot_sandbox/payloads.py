"""Webhook payload shapes, key for key like the v4.15.1 samples (F.3)."""

from .inboxes import conversation_can_reply
from .presenters import MESSAGE_TYPE_NAMES, contact_push, message_push, unread, user_push
from .state import Event, Store, epoch_int, iso


def contact_webhook(store: Store, contact: dict) -> dict:
    """Contact#webhook_data: no `type` key, an `avatar` and the account."""
    body = {"account": dict(store.account), "additional_attributes": contact["additional_attributes"], "avatar": ""}
    body["custom_attributes"] = contact["custom_attributes"]
    body.update({k: contact[k] for k in ("email", "id", "identifier", "name", "phone_number")})
    return {**body, "thumbnail": "", "blocked": contact["blocked"]}


def conversation_webhook(store: Store, conversation: dict) -> dict:
    """Conversation#webhook_data: display id as `id`, the full contact_inbox row, messages = last public message."""
    contact_inbox = store.find(store.contact_inboxes, id=conversation["contact_inbox_id"])
    messages = [m for m in store.messages if m["conversation_id"] == conversation["display_id"]]
    public = [m for m in messages if m["message_type"] != 2 and not m["private"]]
    body = {"additional_attributes": conversation["additional_attributes"]}
    body["can_reply"] = conversation_can_reply(store, conversation)
    body["channel"] = store.inbox(conversation["inbox_id"])["channel_type"]
    body["contact_inbox"] = contact_inbox_row(contact_inbox)
    body.update(id=conversation["display_id"], inbox_id=conversation["inbox_id"])
    body["messages"] = [message_push(store, public[-1], live=False)] if public else []
    body.update(labels=conversation["labels"], meta=conversation_webhook_meta(store, conversation))
    body.update(status=conversation["status"], custom_attributes=conversation["custom_attributes"])
    body.update(snoozed_until=iso(conversation["snoozed_until"]), unread_count=unread(store, conversation))
    body.update(first_reply_created_at=iso(conversation["first_reply_created_at"]), priority=conversation["priority"])
    body["waiting_since"] = epoch_int(conversation["waiting_since"])
    body["agent_last_seen_at"] = epoch_int(conversation["agent_last_seen_at"])
    body["contact_last_seen_at"] = epoch_int(conversation["contact_last_seen_at"])
    body["last_activity_at"] = body["timestamp"] = epoch_int(conversation["last_activity_at"])
    body.update(created_at=epoch_int(conversation["created_at"]), updated_at=round(conversation["updated_at"], 6))
    return {**body, "account": dict(store.account)}


def contact_inbox_row(row: dict) -> dict:
    body = {k: row[k] for k in ("id", "contact_id", "inbox_id", "source_id")}
    body.update(created_at=iso(row["created_at"]), updated_at=iso(row["updated_at"]))
    return {**body, "hmac_verified": row["hmac_verified"], "pubsub_token": row["pubsub_token"]}


def conversation_webhook_meta(store: Store, conversation: dict) -> dict:
    assignee, team = store.user(conversation["assignee_id"]), store.team(conversation["team_id"])
    meta = {"sender": contact_push(store.contact(conversation["contact_id"]))}
    meta["assignee"] = user_push(assignee, live=False) if assignee else None
    meta["assignee_type"] = "User" if assignee else None
    meta["team"] = {"id": team["id"], "name": team["name"]} if team else None
    return {**meta, "hmac_verified": False}


def message_webhook(store: Store, message: dict) -> dict:
    """Message#webhook_data: message_type as a string, created_at as ISO, sender in webhook shape."""
    conversation = store.conversation(message["conversation_id"])
    inbox = store.inbox(message["inbox_id"])
    body = {"account": dict(store.account), "additional_attributes": message["additional_attributes"]}
    body.update(content_attributes=message["content_attributes"], content_type=message["content_type"])
    body.update(content=message["content"], conversation=conversation_webhook(store, conversation))
    body.update(created_at=iso(message["created_at"]), id=message["id"])
    body.update(inbox={"id": inbox["id"], "name": inbox["name"]})
    body.update(message_type=MESSAGE_TYPE_NAMES[message["message_type"]], private=message["private"])
    body.update(sender=sender_webhook(store, message), source_id=message["source_id"])
    return body


def sender_webhook(store: Store, message: dict):
    if message["sender_type"] == "Contact":
        return contact_webhook(store, store.contact(message["sender_id"]))
    if message["sender_type"] == "User":
        user = store.user(message["sender_id"])
        return {"id": user["id"], "name": user["name"], "email": user["email"], "type": "user"}
    if message["sender_type"] == "AgentBot":
        return {"id": store.bot["id"], "name": store.bot["name"], "type": "agent_bot"}
    return None  # automation-generated messages


def event_payload(store: Store, event: Event) -> dict:
    """Build the body of one account-webhook event from the current state."""
    if event.subject == "contact":
        body = contact_webhook(store, store.contact(event.id))
    elif event.subject == "conversation":
        body = conversation_webhook(store, store.conversation(event.id))
    else:
        body = message_webhook(store, store.find(store.messages, id=event.id))
    body["event"] = event.name
    if event.name in ("contact_updated", "conversation_updated", "conversation_status_changed"):
        body["changed_attributes"] = event.changed
    return body
