"""Handoffs into WhatsApp inboxes (CHANNELS.md): Evolution API inboxes, Chatwoot's WhatsApp inbox, several numbers.

The sandbox models Evolution's relay and Chatwoot's WhatsApp channel; these tests run the handoff in process
(tests/test_handoff_channels_e2e.py runs the real worker) and read what the lead actually received.
"""

import json
import uuid
from datetime import timedelta

import pytest
import requests
from django.utils import timezone

from handoff.models import ChatwootInbox, Handoff, RoutingRule, WebhookDelivery
from handoff.services import handoff_create, webhook_process
from handoff.services.inboxes import inboxes_refresh
from handoff.services.webhooks import webhook_receive
from leads import services as lead_services
from leads.models import Lead, Message
from leads.phones import phone_parse
from tests.test_handoff_pipeline import settle

pytestmark = pytest.mark.django_db

PHONE = "+5511987654321"
TWIN_DIGITS = "551187654321"  # the 12-digit form WhatsApp reports for many Brazilian mobiles (CHANNELS §2.3)
SP, RIO, WHATSAPP = "+551140001111", "+552140002222", "+551140003333"
RIO_LEAD = "+5521998123456"
AUTH = {"api_access_token": "sandbox-token"}


@pytest.fixture
def inboxes(chatwoot) -> dict[str, int]:
    """Two Evolution instances (São Paulo and Rio numbers) and a native WhatsApp inbox, known to Nexa."""
    ids = {
        "sp": chatwoot.add_evolution_inbox("loja-sp", SP)["id"],
        "rio": chatwoot.add_evolution_inbox("loja-rio", RIO)["id"],
        "whatsapp": chatwoot.add_whatsapp_inbox(WHATSAPP)["id"],
    }
    inboxes_refresh()
    for phone in (PHONE, RIO_LEAD):  # leads who talk to Atlas on WhatsApp: WhatsApp knows their numbers
        chatwoot.whatsapp_register(phone)
    return ids


def lead_at(inbox_id: int | None, phone: str = PHONE, *, lead_wrote_at=None) -> Lead:
    """A lead Atlas qualified, with the bot history Atlas sent; `inbox_id` as Atlas named it."""
    lead, _ = lead_services.lead_upsert(
        phone=phone_parse(phone), data={"name": "Mariana Albuquerque", "chatwoot_inbox_id": inbox_id}
    )
    wrote_at = lead_wrote_at or timezone.now() - timedelta(minutes=10)
    lead_services.messages_add(
        lead=lead,
        messages=[
            lead_services.NewMessage(sender="lead", content="Oi, quero energia solar", created_at=wrote_at),
            lead_services.NewMessage(sender="bot", content="Qual o valor da conta?", created_at=wrote_at),
        ],
    )
    lead, _ = lead_services.lead_upsert(phone=phone_parse(phone), data={"qualification_score": 9})
    return lead


def conversation_messages(sandbox, display_id: int) -> list[dict]:
    return [m for m in sandbox.state_dump()["messages"] if m["conversation_id"] == display_id]


def notes_in(sandbox, display_id: int) -> list[str]:
    return [m["content"] for m in conversation_messages(sandbox, display_id) if m["private"]]


# --- Evolution API inboxes (CHANNELS §2) ---


def test_a_lead_whose_bot_phase_evolution_mirrored_is_handed_off_in_that_conversation(chatwoot, inboxes):
    chatwoot.lead_writes(inboxes["sp"], PHONE, "Oi, quero energia solar", push_name="Mari")
    chatwoot.bot_replies(inboxes["sp"], PHONE, "Olá! Qual o valor da sua conta?")
    (evolution_conversation,) = chatwoot.state_dump()["conversations"]
    handoff = settle(lead_at(inboxes["sp"]))
    assert handoff.state == Handoff.State.DONE
    rows = chatwoot.state_dump()
    assert len(rows["contacts"]) == 1 and len(rows["conversations"]) == 1
    assert handoff.conversation_id == evolution_conversation["display_id"] and handoff.conversation_reused
    assert rows["contacts"][0]["identifier"] == "5511987654321@s.whatsapp.net"  # Evolution's, left alone
    assert rows["conversations"][0]["status"] == "open" and rows["conversations"][0]["assignee_id"]
    assert any("nexa-handoff:" in note for note in notes_in(chatwoot, handoff.conversation_id))


def test_the_agents_reply_reaches_the_leads_whatsapp_from_the_number_it_wrote_to(chatwoot, inboxes):
    handoff = settle(lead_at(inboxes["sp"]))  # Evolution mirrored nothing: Nexa creates contact and conversation
    chatwoot.agent_reply(handoff.conversation_id, handoff.assignee_id, "Oi Mariana, sou o Bruno!")
    (delivered,) = chatwoot.whatsapp_received(PHONE)
    assert (delivered["to"], delivered["from_number"]) == ("5511987654321", SP)
    assert delivered["content"] == "Oi Mariana, sou o Bruno!"
    assert not [note for note in notes_in(chatwoot, handoff.conversation_id) if "🚨" in note]


def test_the_leads_next_message_lands_in_the_handoffs_conversation(chatwoot, inboxes):
    handoff = settle(lead_at(inboxes["sp"]))
    chatwoot.lead_writes(inboxes["sp"], PHONE, "Pode me ligar às 18h?")
    rows = chatwoot.state_dump()
    assert len(rows["conversations"]) == 1 and len(rows["contacts"]) == 1
    assert conversation_messages(chatwoot, handoff.conversation_id)[-1]["content"] == "Pode me ligar às 18h?"


def test_a_lead_evolution_knows_by_its_12_digit_twin_is_one_contact(chatwoot, inboxes):
    chatwoot.lead_writes(inboxes["sp"], PHONE, "Oi", jid_digits=TWIN_DIGITS)
    handoff = settle(lead_at(inboxes["sp"]))
    rows = chatwoot.state_dump()
    assert len(rows["contacts"]) == 1 and rows["contacts"][0]["phone_number"] == f"+{TWIN_DIGITS}"
    chatwoot.agent_reply(handoff.conversation_id, handoff.assignee_id, "Olá!")
    assert [d["to"] for d in chatwoot.whatsapp_received(PHONE)] == [TWIN_DIGITS]
    chatwoot.lead_writes(inboxes["sp"], PHONE, "Oi de novo", jid_digits=TWIN_DIGITS)
    assert len(chatwoot.state_dump()["conversations"]) == 1


def test_a_contact_nexa_once_gave_its_own_identifier_gets_it_cleared_and_is_answered(chatwoot, inboxes):
    lead = lead_at(inboxes["sp"])
    older_nexa = {"name": "Mariana", "phone_number": PHONE, "identifier": f"nexa-lead-{lead.pk}"}
    contacts_url = f"{chatwoot.base_url}/api/v1/accounts/1/contacts"
    assert requests.post(contacts_url, json=older_nexa, headers=AUTH, timeout=5).ok
    handoff = settle(lead)
    (contact,) = chatwoot.state_dump()["contacts"]
    assert not contact["identifier"]
    chatwoot.agent_reply(handoff.conversation_id, handoff.assignee_id, "Olá!")
    assert [d["to"] for d in chatwoot.whatsapp_received(PHONE)] == ["5511987654321"]


@pytest.mark.parametrize("jid_digits", [None, TWIN_DIGITS], ids=["same number", "12-digit twin"])
def test_on_an_older_chatwoot_the_leads_contact_is_still_found(chatwoot, inboxes, jid_digits):
    """Chatwoot v4.3 and forks only prepend "+" to a phone filter value (CHANNELS §4): Nexa sends digits."""
    chatwoot.set_phone_filter("legacy")
    chatwoot.lead_writes(inboxes["sp"], PHONE, "Oi", jid_digits=jid_digits)
    handoff = settle(lead_at(inboxes["sp"]))
    assert handoff.state == Handoff.State.DONE, handoff.last_error
    assert len(chatwoot.state_dump()["contacts"]) == 1


def test_bot_replies_evolution_mirrors_are_the_bots_never_a_human_reply(chatwoot, inboxes):
    handoff = settle(lead_at(inboxes["sp"]))
    chatwoot.bot_replies(inboxes["sp"], PHONE, "Um consultor já vai falar com você!")
    updates = [e for e in chatwoot.events if e["event"] == "conversation_updated" and e["first_reply_created_at"]]
    assert updates, "Chatwoot counts Evolution's user as the first reply (its first_reply_created_at)"
    for payload in list(chatwoot.events):  # message_created and conversation_updated alike
        _deliver(payload)
    handoff.refresh_from_db()
    mirrored = Message.objects.get(content="Um consultor já vai falar com você!")
    assert mirrored.sender == Message.Sender.BOT
    assert handoff.first_reply_at is None


def _deliver(payload: dict) -> None:
    """A webhook as the receiver stores it, processed as the worker would."""
    if webhook_receive(body=json.dumps(payload), headers={}, payload=payload, delivery_id=str(uuid.uuid4())):
        delivery = WebhookDelivery.objects.order_by("-pk").first()
        if delivery.state == WebhookDelivery.State.RECEIVED:
            webhook_process(delivery_pk=delivery.pk)


# --- Chatwoot's native WhatsApp inbox (CHANNELS §3) ---


def test_a_native_whatsapp_handoff_reuses_the_leads_contact_inbox_and_is_answered(chatwoot, inboxes):
    chatwoot.lead_writes(inboxes["whatsapp"], PHONE, "Oi, vi o anúncio")
    handoff = settle(lead_at(inboxes["whatsapp"]))
    rows = chatwoot.state_dump()
    assert len(rows["contacts"]) == 1 and len(rows["conversations"]) == 1
    assert [ci["source_id"] for ci in rows["contact_inboxes"]] == ["5511987654321"]
    chatwoot.agent_reply(handoff.conversation_id, handoff.assignee_id, "Olá! Aqui é a Ana.")
    (delivered,) = chatwoot.whatsapp_received(PHONE)
    assert (delivered["to"], delivered["from_number"]) == ("5511987654321", WHATSAPP)


def test_a_native_whatsapp_handoff_of_a_lead_who_never_wrote_there_uses_its_whatsapp_id(chatwoot, inboxes):
    handoff = settle(lead_at(inboxes["whatsapp"]))
    rows = chatwoot.state_dump()
    assert handoff.state == Handoff.State.DONE
    assert [ci["source_id"] for ci in rows["contact_inboxes"]] == ["5511987654321"]


def test_outside_whatsapps_24_hours_the_note_and_the_timeline_say_to_start_with_a_template(chatwoot, inboxes):
    chatwoot.lead_writes(inboxes["whatsapp"], PHONE, "Oi, vi o anúncio")
    chatwoot.advance(30 * 3600)  # the lead's last message there is 30 h old: Chatwoot says can_reply false
    handoff = settle(lead_at(inboxes["whatsapp"]))
    assert handoff.state == Handoff.State.DONE and handoff.reply_window_closed
    assert any("modelo (template) aprovado" in note for note in notes_in(chatwoot, handoff.conversation_id))
    assert "modelo (template) aprovado" in handoff.events.get(kind="done").message


def test_a_conversation_nexa_opens_in_a_whatsapp_inbox_needs_a_template_first(chatwoot, inboxes):
    """The lead talked to Atlas through another number: it never wrote in this conversation (CHANNELS §3)."""
    handoff = settle(lead_at(inboxes["whatsapp"]))
    assert any("modelo (template) aprovado" in note for note in notes_in(chatwoot, handoff.conversation_id))


def test_within_whatsapps_24_hours_no_template_is_asked_for(chatwoot, inboxes):
    chatwoot.lead_writes(inboxes["whatsapp"], PHONE, "Oi, vi o anúncio")
    handoff = settle(lead_at(inboxes["whatsapp"]))
    assert handoff.reply_window_closed is False
    assert not any("template" in note for note in notes_in(chatwoot, handoff.conversation_id))
    chatwoot.agent_reply(handoff.conversation_id, handoff.assignee_id, "Olá!")
    assert [d["content"] for d in chatwoot.whatsapp_received(PHONE)] == ["Olá!"]


# --- Several numbers (CHANNELS §5) ---


def test_each_lead_is_answered_from_the_number_it_wrote_to(chatwoot, inboxes):
    rio_phone = RIO_LEAD
    chatwoot.lead_writes(inboxes["sp"], PHONE, "Oi de SP")
    chatwoot.lead_writes(inboxes["rio"], rio_phone, "Oi do Rio")
    sp_handoff, rio_handoff = settle(lead_at(inboxes["sp"])), settle(lead_at(inboxes["rio"], rio_phone))
    assert (sp_handoff.inbox_id, rio_handoff.inbox_id) == (inboxes["sp"], inboxes["rio"])
    chatwoot.agent_reply(rio_handoff.conversation_id, rio_handoff.assignee_id, "Olá, carioca!")
    (delivered,) = chatwoot.whatsapp_received(rio_phone)
    assert delivered["from_number"] == RIO
    assert len(chatwoot.state_dump()["conversations"]) == 2


def test_a_later_handoff_without_an_inbox_goes_where_the_lead_was_answered_before(chatwoot, inboxes):
    lead = lead_at(None)
    first = lead.handoffs.get()
    Handoff.objects.filter(pk=first.pk).update(inbox_id=inboxes["rio"])  # e.g. chosen in the admin
    first = settle(lead)
    lead = Lead.objects.get(pk=first.lead_id)
    assert lead.chatwoot_inbox_id == inboxes["rio"]
    Lead.objects.filter(pk=lead.pk).update(status=Lead.Status.CONVERTIDO)
    chatwoot.resolve(first.conversation_id)
    again = handoff_create(lead=Lead.objects.get(pk=lead.pk), trigger=Handoff.Trigger.ADMIN)
    assert again.inbox_id == inboxes["rio"]


def test_an_inbox_nexa_cannot_serve_fails_the_handoff_with_the_reason(chatwoot, inboxes):
    email = chatwoot.add_email_inbox("vendas@exemplo.com.br")["id"]
    inboxes_refresh()
    handoff = settle(lead_at(email))
    assert handoff.state == Handoff.State.FAILED and "Channel::Email" in handoff.last_error
    assert ChatwootInbox.objects.get(pk=email).kind == ChatwootInbox.Kind.UNSUPPORTED


def test_a_rule_naming_an_inbox_routes_there_and_serves_only_that_inbox(chatwoot, inboxes):
    RoutingRule.objects.create(
        name="Rio", position=1, area_codes="21", inbox_id=inboxes["rio"], strategy="fixed", agent_ids="2"
    )
    rio = settle(lead_at(None, RIO_LEAD))
    assert (rio.inbox_id, rio.assignee_id, rio.routing["rule"]) == (inboxes["rio"], 2, "Rio")
    elsewhere = settle(lead_at(inboxes["sp"], "+5521997776655"))  # a Rio number that wrote to São Paulo's
    assert elsewhere.inbox_id == inboxes["sp"] and elsewhere.routing["rule"] != "Rio"
