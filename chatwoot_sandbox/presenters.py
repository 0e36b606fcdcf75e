"""API response shapes: contacts (B.1), conversations (C.1), messages (D), agents, teams and inboxes (E)."""

from .inboxes import API, EMAIL, WHATSAPP, conversation_can_reply
from .state import Store, epoch_int, iso

MESSAGE_TYPE_NAMES = {0: "incoming", 1: "outgoing", 2: "activity", 3: "template"}


# E (_inbox.json.jbuilder): web-widget and Twilio keys that every inbox carries, null outside those channels.
NULL_CHANNEL_KEYS = ("widget_color", "website_url", "hmac_mandatory", "welcome_title", "welcome_tagline")
NULL_CHANNEL_KEYS += (
    "web_widget_script",
    "website_token",
    "selected_feature_flags",
    "reply_time",
    "messaging_service_sid",
)


def inbox_slim(inbox: dict) -> dict:
    body = {"id": inbox["id"], "avatar_url": ""} | {k: inbox[k] for k in ("channel_id", "name", "channel_type")}
    return {**body, "provider": inbox["channel"].get("provider")}


def inbox_raw(inbox: dict) -> dict:
    """B.1: payload.contact_inbox.inbox is the whole inboxes row (the channel is another table)."""
    row = {k: v for k, v in inbox.items() if k not in ("member_ids", "channel")}
    return {**row, "created_at": iso(inbox["created_at"]), "updated_at": iso(inbox["updated_at"])}


def inbox_api(inbox: dict, *, admin: bool) -> dict:
    """E, CHANNELS §1: the inbox partial in its key order; channel keys by kind, secrets for administrators only."""
    channel, kind = inbox["channel"], inbox["channel_type"]
    body = {"id": inbox["id"], "avatar_url": "", "channel_id": inbox["channel_id"], "name": inbox["name"]}
    body.update(channel_type=kind, greeting_enabled=inbox["greeting_enabled"])
    body.update(greeting_message=inbox["greeting_message"], working_hours_enabled=False, enable_email_collect=True)
    body.update(csat_survey_enabled=False, csat_response_visible=False)
    body.update(enable_auto_assignment=inbox["enable_auto_assignment"], auto_assignment_config={})
    body.update(out_of_office_message=None, working_hours=[], timezone="UTC", callback_webhook_url=None)
    body.update(allow_messages_after_resolved=inbox["allow_messages_after_resolved"])
    body.update(lock_to_single_conversation=inbox["lock_to_single_conversation"])
    body.update(sender_name_type="friendly", business_name=None, **dict.fromkeys(NULL_CHANNEL_KEYS))
    body["phone_number"] = channel.get("phone_number")
    if kind == EMAIL:
        body.update(forward_to_email=channel.get("forward_to_email"), email=channel.get("email"))
    if kind == API:
        if admin:
            body["hmac_token"] = channel.get("hmac_token")
        body.update(webhook_url=channel.get("webhook_url"), inbox_identifier=channel.get("identifier"))
        body["additional_attributes"] = {}
    body["provider"] = channel.get("provider")
    if kind == WHATSAPP:
        body["message_templates"] = channel.get("message_templates") or []
        if admin:
            body["provider_config"] = channel.get("provider_config") or {}
    return body


def contact_api(store: Store, contact: dict, *, with_inboxes: bool = True) -> dict:
    """B.1: the contact partial, in its key order."""
    body = {"additional_attributes": contact["additional_attributes"], "availability_status": "offline"}
    body.update({k: contact[k] for k in ("email", "id", "name", "phone_number", "blocked", "identifier")})
    body.update(thumbnail="", custom_attributes=contact["custom_attributes"])
    if contact["last_activity_at"] is not None:
        body["last_activity_at"] = epoch_int(contact["last_activity_at"])
    body["created_at"] = epoch_int(contact["created_at"])
    if with_inboxes:
        rows = [r for r in store.contact_inboxes if r["contact_id"] == contact["id"]]
        body["contact_inboxes"] = [contact_inbox_api(store, r) for r in rows]
    return body


def contact_inbox_api(store: Store, row: dict) -> dict:
    return {"source_id": row["source_id"], "inbox": inbox_slim(store.inbox(row["inbox_id"]))}


def contact_push(contact: dict) -> dict:
    keys = ("additional_attributes", "custom_attributes", "email", "id", "identifier", "name", "phone_number")
    return {**{k: contact[k] for k in keys}, "thumbnail": "", "blocked": contact["blocked"], "type": "contact"}


def user_push(user: dict, *, live: bool) -> dict:
    """F.3: availability is accurate in API answers and usually null in webhooks."""
    body = {"id": user["id"], "name": user["name"], "available_name": user["name"], "avatar_url": "", "type": "user"}
    return {**body, "availability_status": user["availability"] if live else None, "thumbnail": ""}


def bot_push(bot: dict) -> dict:
    return {"id": bot["id"], "name": bot["name"], "avatar_url": "", "type": "agent_bot"}


def sender_push(store: Store, message: dict, *, live: bool):
    if message["sender_type"] == "Contact":
        return contact_push(store.contact(message["sender_id"]))
    if message["sender_type"] == "User":
        return user_push(store.user(message["sender_id"]), live=live)
    if message["sender_type"] == "AgentBot":
        return bot_push(store.bot)
    return None


def message_push(store: Store, message: dict, *, live: bool) -> dict:
    """F.3 push shape: every column, then a conversation digest and the sender."""
    keys = ("id", "content", "account_id", "inbox_id", "conversation_id", "message_type")
    body = {k: message[k] for k in keys}
    body.update(created_at=epoch_int(message["created_at"]), updated_at=iso(message["updated_at"]))
    for key in ("private", "status", "source_id", "content_type", "content_attributes", "sender_type", "sender_id"):
        body[key] = message[key]
    for key in ("external_source_ids", "additional_attributes", "processed_message_content", "sentiment"):
        body[key] = message[key]
    conversation = store.conversation(message["conversation_id"])
    contact_inbox = store.find(store.contact_inboxes, id=conversation["contact_inbox_id"])
    body["conversation"] = {"assignee_id": conversation["assignee_id"], "unread_count": unread(store, conversation)}
    body["conversation"].update(last_activity_at=epoch_int(conversation["last_activity_at"]))
    body["conversation"]["contact_inbox"] = {"source_id": contact_inbox["source_id"]}
    if message["echo_id"]:
        body["echo_id"] = message["echo_id"]
    body["sender"] = sender_push(store, message, live=live)
    return body


def message_api(store: Store, message: dict) -> dict:
    """D: the message partial; message_type is an integer and created_at an epoch integer."""
    body = {k: message[k] for k in ("id", "content", "inbox_id")}
    if message["echo_id"]:
        body["echo_id"] = message["echo_id"]
    for key in ("conversation_id", "message_type", "content_type", "status", "content_attributes"):
        body[key] = message[key]
    body.update(created_at=epoch_int(message["created_at"]), private=message["private"])
    body.update(source_id=message["source_id"], sender=sender_push(store, message, live=True))
    return body


def unread(store: Store, conversation: dict) -> int:
    seen = conversation["agent_last_seen_at"] or 0
    incoming = [m for m in store.messages if m["conversation_id"] == conversation["display_id"]]
    return min(sum(1 for m in incoming if m["message_type"] == 0 and m["created_at"] > seen), 10)


def agent_api(user: dict) -> dict:
    body = {"id": user["id"], "account_id": user["account_id"], "availability_status": user["availability"]}
    body.update(auto_offline=True, confirmed=True, email=user["email"], provider="email")
    body.update(available_name=user["name"], custom_attributes={}, name=user["name"], role=user["role"])
    return {**body, "thumbnail": ""}


def team_api(team: dict, user_id: int | None) -> dict:
    body = {k: team[k] for k in ("id", "name", "description", "allow_auto_assign", "account_id")}
    return {**body, "is_member": user_id in team["member_ids"]}


def team_raw(team: dict) -> dict:
    """C.4: assigning a team answers with the raw team row."""
    body = {k: team[k] for k in ("id", "name", "description", "allow_auto_assign", "account_id")}
    return {**body, "created_at": iso(team["created_at"]), "updated_at": iso(team["updated_at"])}


def conversation_api(store: Store, conversation: dict) -> dict:
    """C.1: the full conversation object; `id` is the display_id and the internal id is never shown."""
    messages = [m for m in store.messages if m["conversation_id"] == conversation["display_id"]]
    chat = [m for m in messages if m["message_type"] != 2]
    body = {"meta": conversation_meta(store, conversation), "id": conversation["display_id"]}
    body["messages"] = [message_push(store, messages[-1], live=True)] if messages else []
    body.update(account_id=conversation["account_id"], uuid=conversation["uuid"])
    body.update(additional_attributes=conversation["additional_attributes"])
    body.update(agent_last_seen_at=epoch_int(conversation["agent_last_seen_at"]))
    body.update(assignee_last_seen_at=epoch_int(conversation["assignee_last_seen_at"]))
    body["can_reply"] = conversation_can_reply(store, conversation)
    body.update(contact_last_seen_at=epoch_int(conversation["contact_last_seen_at"]))
    body.update(custom_attributes=conversation["custom_attributes"], inbox_id=conversation["inbox_id"])
    body.update(labels=conversation["labels"], muted=conversation["muted"])
    body.update(snoozed_until=iso(conversation["snoozed_until"]), status=conversation["status"])
    body.update(created_at=epoch_int(conversation["created_at"]), updated_at=round(conversation["updated_at"], 6))
    body.update(timestamp=epoch_int(conversation["last_activity_at"]))
    body.update(first_reply_created_at=epoch_int(conversation["first_reply_created_at"]))
    body.update(unread_count=unread(store, conversation))
    body["last_non_activity_message"] = message_push(store, chat[-1], live=True) if chat else None
    body.update(last_activity_at=epoch_int(conversation["last_activity_at"]), priority=conversation["priority"])
    body.update(waiting_since=epoch_int(conversation["waiting_since"]), sla_policy_id=None)
    return body


def conversation_meta(store: Store, conversation: dict) -> dict:
    contact = store.contact(conversation["contact_id"])
    channel = store.inbox(conversation["inbox_id"])["channel_type"]
    meta = {"sender": contact_api(store, contact, with_inboxes=False), "channel": channel}
    assignee, team = store.user(conversation["assignee_id"]), store.team(conversation["team_id"])
    if assignee:
        meta.update(assignee=agent_api(assignee), assignee_type="User")
    if team:
        meta["team"] = team_api(team, None)
    meta["hmac_verified"] = False
    return meta


def messages_meta(store: Store, conversation: dict) -> dict:
    """D: meta of GET .../messages."""
    meta = {"labels": conversation["labels"], "additional_attributes": conversation["additional_attributes"]}
    meta["contact"] = contact_push(store.contact(conversation["contact_id"]))
    assignee = store.user(conversation["assignee_id"])
    if assignee:
        meta["assignee"] = agent_api(assignee)
    meta["agent_last_seen_at"] = iso(conversation["agent_last_seen_at"])
    meta["assignee_last_seen_at"] = iso(conversation["assignee_last_seen_at"])
    return meta


def profile_api(store: Store, user: dict) -> dict:
    """GET /api/v1/profile: the token's user, with the accounts it belongs to."""
    body = {"id": user["id"], "access_token": user["access_token"], "account_id": store.account["id"]}
    body.update(available_name=user["name"], avatar_url="", confirmed=True, display_name=None, email=user["email"])
    body.update(name=user["name"], provider="email", role=user["role"], ui_settings={}, uid=user["email"])
    account = {**store.account, "status": "active", "role": user["role"], "permissions": [user["role"]]}
    account.update(availability=user["availability"], availability_status=user["availability"], auto_offline=True)
    return {**body, "type": None, "custom_attributes": {}, "accounts": [account]}
