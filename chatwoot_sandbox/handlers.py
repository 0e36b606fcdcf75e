"""One small handler per Application API endpoint; each gets a Call and returns the JSON body."""

from dataclasses import dataclass

from . import presenters as present
from .contacts import (
    contact_create,
    contact_inbox_find_or_create,
    contact_update,
    contacts_filter,
    contacts_search,
    page_of,
    resolved_contacts,
)
from .conversations import (
    conversation_assign,
    conversation_create,
    conversation_custom_attributes_set,
    conversation_labels_set,
    conversation_toggle_status,
    conversation_visible,
)
from .inboxes import API
from .messages import message_create
from .state import ApiError, Store

NOT_AUTHORIZED = {"error": "You are not authorized to do this action"}


@dataclass
class Call:
    store: Store
    params: dict
    args: dict
    actor: tuple  # ("user", user row) or ("bot", bot row)


def visible_conversation(call: Call) -> dict:
    conversation = call.store.conversation(call.args["conversation_id"])
    if not conversation_visible(call.store, call.actor, conversation):
        raise ApiError(401, NOT_AUTHORIZED)
    return conversation


# --- contacts (B) ---


def contacts_index(call: Call):
    rows, number = page_of(resolved_contacts(call.store), call.params.get("page"))
    meta = {"count": len(resolved_contacts(call.store)), "current_page": call.params.get("page", number)}
    return {"meta": meta, "payload": [present.contact_api(call.store, c) for c in rows]}


def contacts_post(call: Call):
    contact, contact_inbox = contact_create(call.store, call.params)
    inbox = call.store.inbox(contact_inbox["inbox_id"]) if contact_inbox else None
    wrapper = {
        "inbox": present.inbox_raw(inbox) if inbox else None,
        "source_id": (contact_inbox or {}).get("source_id"),
    }
    return {"payload": {"contact": present.contact_api(call.store, contact), "contact_inbox": wrapper}}


def contacts_search_get(call: Call):
    found = contacts_search(call.store, call.params.get("q"))
    rows, number = page_of(found, call.params.get("page"))
    meta = {"count": len(rows), "current_page": call.params.get("page", number), "has_more": len(found) > number * 15}
    return {"meta": meta, "payload": [present.contact_api(call.store, c) for c in rows]}


def contacts_filter_post(call: Call):
    found = contacts_filter(call.store, call.params.get("payload"))
    rows, number = page_of(found, call.params.get("page"))
    meta = {"count": len(found), "current_page": call.params.get("page", number)}
    return {"meta": meta, "payload": [present.contact_api(call.store, c) for c in rows]}


def contact_get(call: Call):
    return {"payload": present.contact_api(call.store, call.store.contact(call.args["id"]))}


def contact_put(call: Call):
    contact = contact_update(call.store, call.store.contact(call.args["id"]), call.params)
    return {"payload": present.contact_api(call.store, contact)}


def contact_inboxes_post(call: Call):
    contact = call.store.contact(call.args["id"])
    inbox = call.store.inbox(call.params.get("inbox_id"))
    row = contact_inbox_find_or_create(call.store, contact, inbox, call.params.get("source_id"))
    return present.contact_inbox_api(call.store, row)


def contact_conversations_get(call: Call):
    """C.2: all statuses, newest last_activity_at first, at most 20, filtered by permission."""
    contact = call.store.contact(call.args["id"])
    rows = [c for c in call.store.conversations if c["contact_id"] == contact["id"]]
    rows = [c for c in rows if conversation_visible(call.store, call.actor, c)]
    rows.sort(key=lambda c: c["last_activity_at"], reverse=True)
    return {"payload": [present.conversation_api(call.store, c) for c in rows[:20]]}


# --- conversations (C) and messages (D) ---


def conversations_post(call: Call):
    return present.conversation_api(call.store, conversation_create(call.store, call.params, call.actor))


def conversation_get(call: Call):
    return present.conversation_api(call.store, visible_conversation(call))


def toggle_status_post(call: Call):
    return conversation_toggle_status(call.store, visible_conversation(call), call.params, call.actor)


def labels_get(call: Call):
    return {"payload": visible_conversation(call)["labels"]}


def labels_post(call: Call):
    return {"payload": conversation_labels_set(call.store, visible_conversation(call), call.params.get("labels"))}


def custom_attributes_post(call: Call):
    attributes = call.params.get("custom_attributes")
    conversation = visible_conversation(call)
    return {"custom_attributes": conversation_custom_attributes_set(call.store, conversation, attributes)}


def assignments_post(call: Call):
    result = conversation_assign(call.store, visible_conversation(call), call.params, call.actor)
    if result is None:
        return None
    kind, row = result
    return present.agent_api(row) if kind == "user" else present.team_raw(row)


def messages_get(call: Call):
    """D: the latest 20, 20 older with `before`, 100 newer with `after`."""
    conversation = visible_conversation(call)
    rows = [m for m in call.store.messages if m["conversation_id"] == conversation["display_id"]]
    before, after = call.params.get("before"), call.params.get("after")
    if str(after or "").isdigit():
        rows = [m for m in rows if m["id"] > int(after)][:100]
    else:
        rows = [m for m in rows if not str(before or "").isdigit() or m["id"] < int(before)][-20:]
    meta = present.messages_meta(call.store, conversation)
    return {"meta": meta, "payload": [present.message_api(call.store, m) for m in rows]}


def messages_post(call: Call):
    conversation, params = visible_conversation(call), call.params
    message_type = params.get("message_type") or "outgoing"
    if message_type == "incoming" and call.store.inbox(conversation["inbox_id"])["channel_type"] != API:
        raise ApiError(422, {"error": "Incoming messages are only allowed in Api inboxes"})  # D
    private = params.get("private") in (True, "true", "1", 1)
    sender = ("contact", call.store.contact(conversation["contact_id"])) if message_type == "incoming" else call.actor
    extra = {k: params.get(k) for k in ("content_type", "content_attributes", "echo_id", "source_id")}
    message = message_create(
        call.store, conversation, content=params.get("content"), sender=sender, message_type=message_type,
        private=private, **extra,
    )  # fmt: skip
    return present.message_api(call.store, message)


# --- agents, teams, inboxes (E) and profile ---


def agents_get(call: Call):
    return [present.agent_api(u) for u in call.store.users]


def inbox_members_get(call: Call):
    inbox = call.store.inbox(call.args["inbox_id"])
    return {"payload": [present.agent_api(u) for u in call.store.users if u["id"] in inbox["member_ids"]]}


def assignable_agents_get(call: Call):
    """E: members of all the given inboxes plus every administrator."""
    inboxes = [call.store.inbox(i) for i in call.params.get("inbox_ids") or []]
    member_sets = [set(i["member_ids"]) for i in inboxes]
    members = set.intersection(*member_sets) if member_sets else set()
    users = [u for u in call.store.users if u["id"] in members or u["role"] == "administrator"]
    return {"payload": [present.agent_api(u) for u in users]}


def teams_get(call: Call):
    return [present.team_api(t, call.actor[1]["id"]) for t in call.store.teams]


def team_get(call: Call):
    return present.team_api(call.store.or_404(call.store.team(call.args["team_id"])), call.actor[1]["id"])


def team_members_get(call: Call):
    team = call.store.or_404(call.store.team(call.args["team_id"]))
    return [present.agent_api(u) for u in call.store.users if u["id"] in team["member_ids"]]


def inboxes_get(call: Call):
    user = call.actor[1]
    rows = [i for i in call.store.inboxes if user["role"] == "administrator" or user["id"] in i["member_ids"]]
    return {"payload": [present.inbox_api(i, admin=user["role"] == "administrator") for i in rows]}


def inbox_get(call: Call):
    inbox = call.store.inbox(call.args["id"])
    if call.actor[1]["role"] != "administrator" and call.actor[1]["id"] not in inbox["member_ids"]:
        raise ApiError(401, NOT_AUTHORIZED)
    return present.inbox_api(inbox, admin=call.actor[1]["role"] == "administrator")


def profile_get(call: Call):
    return present.profile_api(call.store, call.actor[1])
