"""Conversations: create (C.1), toggle_status (C.3), assignments (C.4), labels and custom attributes (C.5)."""

from .contacts import contact_inbox_find_or_create
from .messages import activity_create, message_create, message_problem
from .state import ApiError, Store, iso

STATUSES = ("open", "pending", "resolved", "snoozed")
SERVER_ERROR = {"status": 500, "error": "Internal Server Error"}
STATUS_ACTIVITY = {
    "open": "Conversation was reopened by {name}",
    "resolved": "Conversation was marked resolved by {name}",
    "pending": "Conversation was marked as pending by {name}",
    "snoozed": "Conversation was snoozed by {name}",
}


def conversation_contact_inbox(store: Store, params: dict) -> dict:
    """C.1: inbox_id + contact_id go through ContactInboxBuilder; otherwise source_id must already exist."""
    if params.get("inbox_id") not in (None, "") and params.get("contact_id") not in (None, ""):
        inbox, contact = store.inbox(params["inbox_id"]), store.contact(params["contact_id"])
        return contact_inbox_find_or_create(store, contact, inbox, params.get("source_id"))
    source_id = params.get("source_id")
    return store.or_404(store.find(store.contact_inboxes, source_id=str(source_id)) if source_id else None)


def attributes_validate(attributes: dict) -> None:
    """C.1: jsonb attribute strings ≤ 1500 chars and integers ≤ 9,999,999,999, else 422."""
    errors = []
    for column, values in attributes.items():
        label = column.replace("_", " ").capitalize()
        for key, value in (values or {}).items():
            if isinstance(value, str) and len(value) > 1500:
                errors.append((column, f"{label} {key} length should be < 1500"))
            elif isinstance(value, int) and not isinstance(value, bool) and value > 9_999_999_999:
                errors.append((column, f"{label} {key} value should be < 9999999999"))
    if errors:
        body = {"message": ", ".join(m for _, m in errors), "attributes": list(dict.fromkeys(a for a, _ in errors))}
        raise ApiError(422, body)


def conversation_create(store: Store, params: dict, actor: tuple) -> dict:
    contact_inbox = conversation_contact_inbox(store, params)  # a before_action: it persists even if the rest fails
    if store.inbox(contact_inbox["inbox_id"])["lock_to_single_conversation"]:
        existing = [c for c in store.conversations if c["contact_inbox_id"] == contact_inbox["id"]]
        if existing:
            return existing[-1]  # C.1: the inbox keeps one conversation per contact_inbox
    status = params.get("status") or "open"
    if status not in STATUSES:
        raise ApiError(500, SERVER_ERROR)  # C.1: an unknown enum value is an unhandled ArgumentError
    attributes = {k: params.get(k) if isinstance(params.get(k), dict) else {} for k in ATTRIBUTE_COLUMNS}
    attributes_validate(attributes)
    message = params.get("message") if isinstance(params.get("message"), dict) else None
    if message and message.get("message_type", "outgoing") not in ("incoming", "outgoing", "template"):
        raise ApiError(500, SERVER_ERROR)  # an ArgumentError that the conversations controller does not rescue
    conversation = conversation_row(store, contact_inbox, status, attributes)
    if message:
        problem = message_problem(store, conversation, message.get("content"))
        if problem:
            raise ApiError(422, {"message": problem[1], "attributes": [problem[0]]})
    conversation_assignee_set(store, conversation, params.get("assignee_id"), params.get("team_id"))
    store.conversations.append(conversation)
    store.emit("conversation_created", "conversation", conversation["display_id"])
    if message:
        message_params = {k: v for k, v in message.items() if k in MESSAGE_PARAMS}
        message_create(
            store, conversation, sender=message_sender(store, conversation, message, actor), **message_params
        )
        # Rails runs one after-commit callback per record: the create wins over updates in the same transaction.
        store.events_drop(
            "conversation", conversation["display_id"], {"conversation_updated", "conversation_status_changed"}
        )
    return conversation


ATTRIBUTE_COLUMNS = ("additional_attributes", "custom_attributes")
MESSAGE_PARAMS = {"content", "message_type", "private", "content_type", "content_attributes", "echo_id", "source_id"}


def message_sender(store: Store, conversation: dict, message: dict, actor: tuple) -> tuple:
    if message.get("message_type") == "incoming":
        return "contact", store.contact(conversation["contact_id"])
    return actor


def conversation_row(store: Store, contact_inbox: dict, status: str, attributes: dict) -> dict:
    contact = store.contact(contact_inbox["contact_id"])
    now = store.now()
    row = {"id": store.next_id("conversation"), "display_id": store.next_display_id()}
    row.update(account_id=store.account["id"], inbox_id=contact_inbox["inbox_id"], contact_id=contact["id"])
    row.update(contact_inbox_id=contact_inbox["id"], uuid=store.new_uuid())
    row.update(status="resolved" if contact["blocked"] else status, assignee_id=None, team_id=None)  # B.2
    row.update(labels=[], priority=None, snoozed_until=None, muted=False, **attributes)
    row.update(created_at=now, updated_at=now, last_activity_at=now, waiting_since=now)
    row.update(first_reply_created_at=None, agent_last_seen_at=None, assignee_last_seen_at=None)
    row["contact_last_seen_at"] = None
    return row


def conversation_assignee_set(store: Store, conversation: dict, assignee_id, team_id) -> None:
    """C.1: stored directly; a team drops an assignee who is not its member; auto-assignment picks an online agent."""
    assignee, team = store.user(assignee_id), store.team(team_id)
    if team and assignee and assignee["id"] not in team["member_ids"]:
        assignee = None
    if conversation["status"] == "open" and not assignee:
        inbox = store.inbox(conversation["inbox_id"])
        if team and team["allow_auto_assign"]:
            assignee = online_agent(store, inbox, team["member_ids"])
        elif inbox["enable_auto_assignment"]:
            assignee = online_agent(store, inbox, inbox["member_ids"])
    conversation["assignee_id"] = assignee["id"] if assignee else None
    conversation["team_id"] = team["id"] if team else None


def online_agent(store: Store, inbox: dict, candidate_ids) -> dict | None:
    """Round-robin over online inbox members (E: Chatwoot's V1 auto-assignment)."""
    online = [u for u in store.users if u["id"] in inbox["member_ids"] and u["id"] in candidate_ids]
    online = [u for u in online if u["availability"] == "online"]
    if not online:
        return None
    store.round_robin += 1
    return online[store.round_robin % len(online)]


def conversation_toggle_status(store: Store, conversation: dict, params: dict, actor: tuple) -> dict:
    status = params.get("status")
    if status in (None, ""):
        status = "resolved" if conversation["status"] == "open" else "open"  # C.3: toggles without a status
    if status not in STATUSES:
        raise ApiError(500, SERVER_ERROR)
    kind, who = actor
    handoff = kind == "bot" and conversation["status"] == "pending" and status == "open"
    changes = {"status": status, "snoozed_until": snooze_time(params) if status == "snoozed" else None}
    if handoff and not conversation["waiting_since"]:
        changes["waiting_since"] = store.now()
    if status == "resolved":
        changes["waiting_since"] = None  # C.3: resolving clears waiting_since
    if kind == "user" and who["role"] == "agent" and status == "open":
        changes["assignee_id"] = who["id"]  # C.3: an agent who opens a conversation takes it
    if "status" in store.conversation_change(conversation, **changes):
        activity_create(store, conversation, STATUS_ACTIVITY[status].format(name=who["name"]))
    payload = {"success": None if handoff else True, "conversation_id": conversation["display_id"]}
    payload.update(current_status=conversation["status"], snoozed_until=iso(conversation["snoozed_until"]))
    return {"meta": {}, "payload": payload}


def snooze_time(params: dict) -> float | None:
    try:
        return float(params["snoozed_until"])
    except (KeyError, TypeError, ValueError):
        return None


def conversation_assign(store: Store, conversation: dict, params: dict, actor: tuple):
    """C.4: returns ("user", row), ("team", row) or None (unassigned)."""
    by = actor[1]["name"]
    if "assignee_id" in params:
        user = store.user(params["assignee_id"])  # unknown or null unassigns
        if store.conversation_change(conversation, assignee_id=user["id"] if user else None):
            text = f"Assigned to {user['name']} by {by}" if user else f"Conversation unassigned by {by}"
            activity_create(store, conversation, text)
        return ("user", user) if user else None
    if "team_id" in params:
        team = store.team(params["team_id"])  # an unknown team unassigns the team
        changes = {"team_id": team["id"] if team else None}
        if team and conversation["assignee_id"] not in team["member_ids"]:
            changes["assignee_id"] = None  # C.1: the assignee must belong to the team
        if store.conversation_change(conversation, **changes):
            text = f"Assigned to {team['name']} team by {by}" if team else f"Unassigned from team by {by}"
            activity_create(store, conversation, text)
        return ("team", team) if team else None
    return None


def conversation_labels_set(store: Store, conversation: dict, labels) -> list:
    """C.5: replaces the whole list; labels need not exist as account labels."""
    labels = list(dict.fromkeys(str(label) for label in labels or []))
    store.conversation_change(conversation, labels=labels)
    return conversation["labels"]


def conversation_custom_attributes_set(store: Store, conversation: dict, attributes) -> dict:
    """C.5: replaces the whole hash (contacts merge, conversations do not)."""
    attributes = attributes if isinstance(attributes, dict) else {}
    attributes_validate({"custom_attributes": attributes})
    store.conversation_change(conversation, custom_attributes=attributes)
    return conversation["custom_attributes"]


def conversation_visible(store: Store, actor: tuple, conversation: dict) -> bool:
    """A.2: an agent sees conversations of the inboxes and teams they belong to."""
    kind, who = actor
    if kind != "user" or who["role"] == "administrator":
        return True
    inbox = store.inbox(conversation["inbox_id"])
    team = store.team(conversation["team_id"])
    return who["id"] in inbox["member_ids"] or bool(team and who["id"] in team["member_ids"])
