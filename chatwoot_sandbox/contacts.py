"""Contacts: create and update with Chatwoot's validation (B.1, B.2, B.5), filter and search (B.3, B.4), B.6."""

import random
import re

from . import inboxes
from .state import PHONE_FILTER_RULES, ApiError, Store

# B.2: anchored only at the end, like the Rails format validator.
E164 = re.compile(r"\+[1-9]\d{1,14}\Z")
EMAIL = re.compile(r"\A[^@\s]+@[^@\s]+\Z")  # Devise.email_regexp
STRING_FIELDS = ("name", "email", "phone_number", "identifier")
LABELS = {"name": "Name", "email": "Email", "phone_number": "Phone number", "identifier": "Identifier"}
PER_PAGE = 15
EQUALITY = {"equal_to", "not_equal_to"}
TEXT_OPERATORS = EQUALITY | {"contains", "does_not_contain"}
# B.4: lib/filters/filter_keys.yml, contacts section.
FILTER_OPERATORS = {
    "name": TEXT_OPERATORS,
    "email": TEXT_OPERATORS,
    "phone_number": TEXT_OPERATORS | {"starts_with"},
    "identifier": EQUALITY,
}
# CHANNELS §3 (app/models/contact_inbox.rb): a WhatsApp contact_inbox's source_id is the wa_id.
WHATSAPP_SOURCE_ID = re.compile(r"^\d{1,15}\Z")
WHATSAPP_SOURCE_ID_ERROR = r"Source invalid source id for whatsapp inbox. valid Regex (?-mix:^\d{1,15}\z)"
# C.1: in these channels a source_id held by another contact is taken over instead of refused.
TAKEOVER_CHANNELS = {inboxes.EMAIL, inboxes.WHATSAPP}
GENERATED_FROM = {inboxes.WHATSAPP: ("phone_number", "contact phone number"), inboxes.EMAIL: ("email", "contact email")}
SERVER_ERROR = {"status": 500, "error": "Internal Server Error"}


def contact_fields(params: dict) -> dict:
    fields = {k: params[k] for k in STRING_FIELDS if k in params}
    fields = {k: (v if v is None or isinstance(v, str) else str(v)) for k, v in fields.items()}
    if "blocked" in params:
        fields["blocked"] = params["blocked"] in (True, "true", "1", 1)
    for key in ("additional_attributes", "custom_attributes"):
        if isinstance(params.get(key), dict):
            fields[key] = params[key]
    if fields.get("email"):
        fields["email"] = fields["email"].lower()  # B.2: downcased before validation
    return fields


def contact_validate(store: Store, contact_id, values: dict) -> None:
    """B.2: 422 {"message", "attributes"}, never the id of the contact that already holds the value."""
    others = [c for c in store.contacts if c["id"] != contact_id]
    errors = []
    for key in ("email", "identifier", "phone_number"):
        value = values.get(key)
        if value and any(c.get(key) == value for c in others):
            errors.append((key, f"{LABELS[key]} has already been taken"))
    if values.get("email") and not EMAIL.search(values["email"]):
        errors.append(("email", "Email Invalid email"))
    if values.get("phone_number") and not E164.search(values["phone_number"]):
        errors.append(("phone_number", "Phone number should be in e164 format"))
    for key in STRING_FIELDS:
        if len(values.get(key) or "") > 255:
            errors.append((key, f"{LABELS[key]} is too long (maximum is 255 characters)"))
    if errors:
        body = {"message": ", ".join(m for _, m in errors), "attributes": list(dict.fromkeys(a for a, _ in errors))}
        raise ApiError(422, body)


def contact_create(store: Store, params: dict) -> tuple[dict, dict | None]:
    """B.1: optional inbox_id (unknown → 404, nothing created) and source_id, in one transaction."""
    inbox = store.inbox(params["inbox_id"]) if params.get("inbox_id") not in (None, "") else None
    fields = contact_fields(params)
    contact_validate(store, None, fields)
    source_id = None
    if inbox:  # every check that can fail runs before the contact is stored: the transaction rolls back
        source_id = contact_inbox_source_id(inbox, fields, params.get("source_id"))
        source_id_holder(store, inbox, source_id, None)
    now = store.now()
    contact = {"id": store.next_id("contact"), "account_id": store.account["id"], "name": fields.get("name") or ""}
    contact.update({k: fields.get(k) for k in ("email", "phone_number", "identifier")})
    contact.update(blocked=fields.get("blocked", False), thumbnail="", created_at=now, updated_at=now)
    contact.update({k: fields.get(k) or {} for k in ("additional_attributes", "custom_attributes")})
    contact["last_activity_at"] = None
    store.contacts.append(contact)
    store.emit("contact_created", "contact", contact["id"])
    contact_inbox = contact_inbox_find_or_create(store, contact, inbox, source_id) if inbox else None
    return contact, contact_inbox


def contact_update(store: Store, contact: dict, params: dict) -> dict:
    fields = contact_fields(params)
    for key in ("additional_attributes", "custom_attributes"):
        if key in fields:
            fields[key] = {**contact[key], **fields[key]}  # B.5: shallow merge, unlike conversations
    contact_validate(store, contact["id"], {**contact, **fields})
    store.contact_change(contact, **fields)
    return contact


def contact_inbox_find_or_create(store: Store, contact: dict, inbox: dict, source_id) -> dict:
    """ContactInboxBuilder (B.6, C.1): the (contact, inbox, source_id) row, found or created."""
    source_id = contact_inbox_source_id(inbox, contact, source_id)
    row = source_id_holder(store, inbox, source_id, contact["id"])
    if row and row["contact_id"] == contact["id"]:
        return row
    if row:
        row["source_id"] = source_id_mangled(inbox, row["source_id"])
    now = store.now()
    row = {"id": store.next_id("contact_inbox"), "contact_id": contact["id"], "inbox_id": inbox["id"]}
    row.update(source_id=source_id, created_at=now, updated_at=now, hmac_verified=False)
    row["pubsub_token"] = store.new_token()
    store.contact_inboxes.append(row)
    return row


def contact_inbox_source_id(inbox: dict, contact: dict, source_id) -> str:
    """B.1: the given source_id, else one generated per channel; CHANNELS §3: WhatsApp's must be a wa_id."""
    if source_id in (None, ""):
        source_id = generated_source_id(inbox, contact)
    source_id = str(source_id)
    if inbox["channel_type"] == inboxes.WHATSAPP and not WHATSAPP_SOURCE_ID.search(source_id):
        raise ApiError(422, {"message": WHATSAPP_SOURCE_ID_ERROR, "attributes": ["source_id"]})
    return source_id


def generated_source_id(inbox: dict, contact: dict) -> str:
    """B.1: API → a new random UUID on every call (B.6); WhatsApp → phone without '+'; email → the email."""
    kind = inbox["channel_type"]
    if kind == inboxes.API:
        return Store.new_uuid()
    if kind not in GENERATED_FROM:
        raise ApiError(500, SERVER_ERROR)  # B.1: "Unsupported operation for this channel", unhandled
    column, label = GENERATED_FROM[kind]
    if not contact.get(column):
        raise ApiError(422, {"error": f"param is missing or the value is empty: {label}"})
    return contact[column].replace("+", "") if kind == inboxes.WHATSAPP else contact[column]


def source_id_holder(store: Store, inbox: dict, source_id: str, contact_id) -> dict | None:
    """The row holding source_id in the inbox; C.1: another contact's is a 422 in API inboxes."""
    row = store.find(store.contact_inboxes, inbox_id=inbox["id"], source_id=source_id)
    if row and row["contact_id"] != contact_id and inbox["channel_type"] not in TAKEOVER_CHANNELS:
        raise ApiError(422, {"error": "source_id should be unique"})
    return row


def source_id_mangled(inbox: dict, source_id: str) -> str:
    """C.1 (update_old_contact_inbox): the other contact's row is renamed so that this contact takes the value over."""
    if inbox["channel_type"] == inboxes.WHATSAPP:
        return f"whatsapp:{source_id}{random.randrange(100)}"
    return f"{random.randrange(10)}{source_id}"


def page_of(rows: list, page) -> tuple[list, int]:
    number = max(int(page), 1) if str(page or "").isdigit() else 1
    return rows[(number - 1) * PER_PAGE : number * PER_PAGE], number


def resolved_contacts(store: Store) -> list:
    """B.4: filter and index only see contacts with an email, phone or identifier."""
    return [c for c in store.contacts if c["email"] or c["phone_number"] or c["identifier"]]


def contacts_search(store: Store, q) -> list:
    """B.3: ILIKE on name, email and phone; case-sensitive LIKE on identifier; all contacts."""
    term = (q or "").strip()
    if not term:
        raise ApiError(422, {"error": "Specify search string with parameter q"})
    low = term.lower()

    def hit(c):
        texts = [c["name"], c["email"], c["phone_number"]]
        return any(low in (t or "").lower() for t in texts) or term in (c["identifier"] or "")

    return [c for c in store.contacts if hit(c)]


def contacts_filter(store: Store, conditions) -> list:
    if not isinstance(conditions, list) or not conditions:
        raise ApiError(422, {"error": "param is missing or the value is empty: payload"})
    for index, condition in enumerate(conditions):
        condition_validate(condition, last=index == len(conditions) - 1)
    rule = PHONE_FILTER_RULES[store.config["phone_filter"]]
    return [c for c in resolved_contacts(store) if conditions_match(c, conditions, rule)]


def condition_validate(condition, *, last: bool) -> None:
    key = condition.get("attribute_key") if isinstance(condition, dict) else None
    if key not in FILTER_OPERATORS:
        raise ApiError(422, {"error": f"Invalid attribute key - {key}"})
    operator = condition.get("filter_operator")
    if operator not in FILTER_OPERATORS[key]:
        allowed = ",".join(sorted(FILTER_OPERATORS[key]))
        raise ApiError(422, {"error": f"Invalid operator. The allowed operators for {key} are [{allowed}]."})
    if not last and str(condition.get("query_operator") or "").lower() not in ("and", "or"):
        raise ApiError(422, {"error": "Invalid query operator, the allowed values are AND and OR"})


def conditions_match(contact: dict, conditions: list, phone_rule) -> bool:
    """B.4: the conditions become one SQL WHERE, so AND binds tighter than OR."""
    groups, current = [], []
    for index, condition in enumerate(conditions):
        current.append(condition_match(contact, condition, phone_rule))
        if index < len(conditions) - 1 and str(condition["query_operator"]).lower() == "or":
            groups.append(all(current))
            current = []
    groups.append(all(current))
    return any(groups)


def condition_match(contact: dict, condition: dict, phone_rule) -> bool:
    key, operator = condition["attribute_key"], condition["filter_operator"]
    values = [str(v) for v in condition.get("values") or [] if v is not None]
    value = contact.get(key)
    if not value:
        return False  # SQL NULL fails every comparison
    text, first = value.lower(), (values[0].lower() if values else "")
    if operator in EQUALITY:
        # B.4, CHANNELS §4: phone_number compares the first value as the release's rule rewrites it; others LOWER().
        wanted = {phone_rule(first)} if key == "phone_number" else {v.lower() for v in values}
        return (text in wanted) == (operator == "equal_to")
    if operator == "starts_with":
        return text.startswith(first)
    return (first in text) == (operator == "contains")
