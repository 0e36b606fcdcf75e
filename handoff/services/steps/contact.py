"""a. The contact: found by phone, twin or WhatsApp id, else created; its contact_inbox source_id kept (B, CHANNELS)."""

import re

from handoff.chatwoot import ChatwootClient, ChatwootPermanentError, ChatwootTransientError, Contact
from handoff.models import ChatwootInbox, HandoffEvent
from handoff.services.lifecycle import handoff_event
from handoff.services.steps.common import ATTRIBUTE_MAX, HandoffImpossible
from leads.models import Lead, Message
from leads.phones import phone_twin

Kind = HandoffEvent.Kind

CHATWOOT_E164 = re.compile(r"\+[1-9]\d{1,14}")  # B.2, anchored at both ends here
# What Nexa once wrote into `identifier`. Evolution sends an agent's reply to the identifier's digits (CHANNELS
# §2.1), so a contact carrying one is never answered: Nexa clears it where it finds it and never writes it again.
LEGACY_IDENTIFIER_PREFIX = "nexa-lead-"
WHATSAPP_JID = "{}@s.whatsapp.net"  # how Evolution identifies the contacts it creates (CHANNELS §2.2, §2.3)


def contact(run, client: ChatwootClient) -> None:
    """a. Find the contact by phone, twin or WhatsApp id, else create it; keep its contact_inbox source_id."""
    handoff, lead = run.handoff, run.handoff.lead
    if not CHATWOOT_E164.fullmatch(lead.phone):
        raise HandoffImpossible(f"O telefone {lead.phone!r} não está no formato E.164 que o Chatwoot exige.")
    found = _contact_find_or_create(run, client, lead) if handoff.contact_id is None else None
    if not handoff.contact_synced or not handoff.contact_source_id:
        found = run.contact = found or run.contact or client.contact_get(handoff.contact_id)
    if not handoff.contact_synced:
        attributes = _contact_attributes(lead, run.history)
        legacy = found.identifier.startswith(LEGACY_IDENTIFIER_PREFIX)  # never a JID Evolution wrote
        # A contact that carries them already (this attempt's create whose answer was lost made it) is not
        # written again.
        if legacy or any(found.custom_attributes.get(key) != value for key, value in attributes.items()):
            changes = {"custom_attributes": attributes}  # B.5: merged
            if legacy:
                changes["identifier"] = None
            client.contact_update(handoff.contact_id, **changes)
        run.checkpoint(contact_synced=True)
    if not handoff.contact_source_id:
        # The contact's own contact_inbox in this inbox, else ours: a conversation created with contact, inbox and
        # this source_id makes the contact_inbox in the same call (C.1), and finds it again on a repeat.
        source_id = found.source_id_for(run.inbox.id) or contact_source_id(run.inbox, lead)
        run.checkpoint(contact_source_id=source_id)


def contact_source_id(inbox: ChatwootInbox, lead: Lead) -> str:
    """The contact_inbox source_id Nexa gives a lead in an inbox: in a native WhatsApp inbox it is where Chatwoot
    sends the agent's replies, the lead's WhatsApp id (CHANNELS §3: digits); elsewhere a stable id of Nexa's."""
    if inbox.kind == ChatwootInbox.Kind.WHATSAPP:
        return lead.phone.lstrip("+")
    return f"nexa-{lead.pk}"


def _contact_find_or_create(run, client: ChatwootClient, lead: Lead) -> Contact:
    # Looked for in this attempt and not there, and no create since may have made it: no need to look again.
    found = None if run.contact_absent else _contact_find(client, lead)
    if found:
        handoff_event(run.handoff, Kind.CONTACT, f"Contato {found.id} encontrado no Chatwoot.")
        run.checkpoint(contact_id=found.id)
        return found
    fields = {
        "name": lead.name[:255],
        "email": lead.email,
        "phone_number": lead.phone,
        "custom_attributes": _contact_attributes(lead, run.history),
    }
    run.contact_absent = True
    try:
        created, source_id = _contact_create(client, run.inbox, lead, fields)
    except ChatwootTransientError as err:
        run.contact_absent = not err.ambiguous  # a create whose answer was lost may have made the contact
        raise
    except ChatwootPermanentError as err:
        # B.2: a duplicate is a 422 naming the attributes but not the contact. The lead's (same phone, twin or
        # WhatsApp id, created meanwhile) is adopted; another person's e-mail never merges two phones.
        adopted = _contact_find(client, lead) if err.status == 422 else None
        if adopted is None:
            raise
        handoff_event(run.handoff, Kind.CONTACT, f"Contato {adopted.id} já existia ({', '.join(err.attributes)}).")
        run.checkpoint(contact_id=adopted.id)
        return adopted
    run.contact_created = True
    handoff_event(run.handoff, Kind.CONTACT, f"Contato {created.id} criado no Chatwoot.")
    run.checkpoint(contact_id=created.id, contact_synced=True, contact_source_id=source_id or "")
    return created


def _contact_create(client: ChatwootClient, inbox: ChatwootInbox, lead: Lead, fields: dict):
    inbox_id, source_id = inbox.id, contact_source_id(inbox, lead)
    try:
        return client.contact_create(inbox_id=inbox_id, source_id=source_id, **fields)
    except ChatwootPermanentError as err:
        if err.status != 422 or err.attributes != ["email"] or _contact_find(client, lead):
            raise
        # The e-mail belongs to another contact (another phone): keep the two people apart.
        return client.contact_create(inbox_id=inbox_id, source_id=source_id, **{**fields, "email": ""})


def _contact_find(client: ChatwootClient, lead: Lead) -> Contact | None:
    """One filter call (B.4), in order of preference: the exact phone, its 9th-digit twin, the WhatsApp id
    Evolution writes as identifier for either, and the identifier Nexa once wrote.

    Phones go as digits without "+": every Chatwoot version matches them (CHANNELS §4), where "+55…" becomes
    "++55…" on older ones and never matches (and the create that follows fails: the phone is taken).
    """
    numbers = [number.lstrip("+") for number in (lead.phone, phone_twin(lead.phone)) if number]
    wanted = [("phone_number", number) for number in numbers]
    wanted += [("identifier", WHATSAPP_JID.format(number)) for number in numbers]
    wanted.append(("identifier", f"{LEGACY_IDENTIFIER_PREFIX}{lead.pk}"))
    matches = client.contacts_filter(wanted)
    for key, value in wanted:
        for match in matches:
            if _same(key, getattr(match, key), value):
                return match
    return None


def _contact_attributes(lead: Lead, history: list[Message]) -> dict:
    last_bot = next((message.content for message in reversed(history) if message.sender == Message.Sender.BOT), "")
    return {
        "atlas_lead_id": lead.external_id or str(lead.pk),
        "qualification_score": lead.qualification_score,
        "interest": lead.interest[:ATTRIBUTE_MAX],
        "source": "atlas_nexa",
        "last_bot_message": last_bot[:ATTRIBUTE_MAX],
    }


def _same(key: str, actual: str, wanted: str) -> bool:
    if key == "phone_number":
        return actual.lstrip("+") == wanted.lstrip("+")
    return actual.lower() == wanted.lower()
