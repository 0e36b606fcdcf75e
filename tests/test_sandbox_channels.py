"""The sandbox's WhatsApp inboxes behave as CHANNELS.md describes: Evolution's API inbox (§2), native WhatsApp (§3)."""

import subprocess
import sys
from pathlib import Path

import pytest
import requests

from chatwoot_sandbox import Sandbox
from chatwoot_sandbox.cli import parser_build, sandbox_from_options, sandbox_summary

TOKEN = "sandbox-token"
EVOLUTION_NUMBER = "+5511900001111"
OTHER_NUMBER = "+5511900003333"
CLOUD_NUMBER = "+5511900002222"
LEAD = "+5511987654321"  # the 13-digit form, with the 9th digit
LEAD_JID = "551187654321"  # WhatsApp's old 12-digit form of the same mobile
DAY = 24 * 3600


@pytest.fixture
def sb():
    """A sandbox that is not listening: the Python API alone."""
    return Sandbox(token=TOKEN)


@pytest.fixture
def evolution(sb):
    return sb.add_evolution_inbox("atlas", EVOLUTION_NUMBER)["id"]


@pytest.fixture
def cloud(sb):
    return sb.add_whatsapp_inbox(CLOUD_NUMBER)["id"]


@pytest.fixture
def running():
    with Sandbox(token=TOKEN).start() as sandbox:
        yield sandbox


class Client:
    def __init__(self, sandbox: Sandbox, token: str = TOKEN):
        self.base = f"{sandbox.base_url}/api/v1/accounts/1/"
        self.session = requests.Session()
        self.session.trust_env = False
        self.session.headers["api_access_token"] = token

    def get(self, path, **kwargs):
        return self.session.get(self.base + path, timeout=5, **kwargs)

    def post(self, path, body=None):
        return self.session.post(self.base + path, json=body, timeout=5)


def phone_filter(sandbox: Sandbox, value: str) -> list[int]:
    condition = {"attribute_key": "phone_number", "filter_operator": "equal_to", "values": [value]}
    body = Client(sandbox).post("contacts/filter", {"payload": [{**condition, "query_operator": None}]}).json()
    return [c["id"] for c in body["payload"]]


def contact_of(sb: Sandbox, message: dict) -> dict:
    return sb.state.contact(sb.state.conversation(message["conversation_id"])["contact_id"])


def contact_id_created(sandbox: Sandbox, **fields) -> int:
    return Client(sandbox).post("contacts", {"name": "Maria", **fields}).json()["payload"]["contact"]["id"]


def conversation_by_nexa(sandbox: Sandbox, inbox_id: int, **contact_fields) -> int:
    """A contact and a conversation in the inbox created through the API, as a hand-off would (C.1, no source_id)."""
    contact_id = contact_id_created(sandbox, **contact_fields)
    return Client(sandbox).post("conversations", {"contact_id": contact_id, "inbox_id": inbox_id}).json()["id"]


def texts(sb: Sandbox, phone: str | None = None) -> list[str]:
    return [entry["content"] for entry in sb.whatsapp_received(phone)]


# --- inbox kinds (CHANNELS §1, API-NOTES E) ---


def test_inboxes_list_each_kind_with_its_channel_fields(running):
    running.add_evolution_inbox("atlas", EVOLUTION_NUMBER)
    running.add_whatsapp_inbox(CLOUD_NUMBER, provider="default")
    running.add_email_inbox("vendas@nexa.example")
    plain, evolution, cloud, email = Client(running).get("inboxes").json()["payload"]
    assert (plain["name"], plain["channel_type"], plain["webhook_url"]) == ("Atlas Nexa", "Channel::Api", None)
    assert (evolution["name"], evolution["channel_type"]) == ("atlas", "Channel::Api")
    assert evolution["webhook_url"] == "http://evolution.internal:8080/chatwoot/webhook/atlas"
    assert plain["inbox_identifier"] != evolution["inbox_identifier"] and evolution["hmac_token"]
    assert (cloud["channel_type"], cloud["phone_number"], cloud["provider"]) == (
        "Channel::Whatsapp",
        CLOUD_NUMBER,
        "default",
    )
    assert "webhook_url" not in cloud and email["channel_type"] == "Channel::Email"
    for inbox in (plain, evolution, cloud, email):
        assert {"id", "channel_id", "avatar_url", "enable_auto_assignment", "greeting_enabled"} <= set(inbox)
        assert {"lock_to_single_conversation", "allow_messages_after_resolved"} <= set(inbox)


def test_inbox_show_answers_the_list_shape_and_hides_the_hmac_token_from_agents(running):
    inbox_id = running.add_evolution_inbox("atlas", EVOLUTION_NUMBER)["id"]
    listed = Client(running).get("inboxes").json()["payload"][1]
    assert Client(running).get(f"inboxes/{inbox_id}").json() == listed
    as_agent = Client(running, token=running.agent_tokens[2]).get(f"inboxes/{inbox_id}").json()
    assert "hmac_token" not in as_agent and as_agent["webhook_url"] == listed["webhook_url"]


def test_evolution_integration_user_is_an_offline_administrator_outside_inbox_one(sb, evolution):
    user = sb.state.user(sb.evolution_user_id)
    assert (user["name"], user["role"], user["availability"]) == ("Evolution API", "administrator", "offline")
    assert sb.state.inbox(1)["member_ids"] == [1, 2, 3]
    assert sb.evolution_user_id not in sb.state.inbox(evolution)["member_ids"]
    sb.add_evolution_inbox("vendas", OTHER_NUMBER)
    assert [u["name"] for u in sb.state.users].count("Evolution API") == 1


def test_one_business_number_per_inbox(sb, evolution):
    with pytest.raises(ValueError, match="already has an inbox"):
        sb.add_whatsapp_inbox(EVOLUTION_NUMBER)


def test_reset_keeps_the_inboxes_added_since_the_seed(sb, evolution, cloud):
    sb.lead_writes(evolution, LEAD, "Oi")
    sb.reset()
    assert [i["id"] for i in sb.state.inboxes] == [1, evolution, cloud]
    assert sb.state.conversations == [] and sb.whatsapp_received() == [] and sb.evolution_user_id == 4


# --- Evolution: the lead writes (CHANNELS §2.2, §2.3) ---


def test_evolution_inbound_creates_the_contact_with_the_jid_identifier_and_the_jid_phone(sb, evolution):
    message = sb.lead_writes(evolution, LEAD, "Oi, quero um orçamento", push_name="Maria", jid_digits=LEAD_JID)
    contact = contact_of(sb, message)
    assert (contact["identifier"], contact["phone_number"], contact["name"]) == (
        f"{LEAD_JID}@s.whatsapp.net",
        f"+{LEAD_JID}",
        "Maria",
    )
    assert (message["message_type"], message["sender_type"], message["source_id"][:5]) == (0, "Contact", "WAID:")
    assert sb.state.conversation(message["conversation_id"])["status"] == "open"


def test_evolution_second_message_joins_the_cached_conversation_even_when_resolved(sb, evolution):
    first = sb.lead_writes(evolution, LEAD, "Oi", jid_digits=LEAD_JID)
    sb.resolve(first["conversation_id"])
    second = sb.lead_writes(evolution, LEAD, "Ainda estou aqui", jid_digits=LEAD_JID)
    assert second["conversation_id"] == first["conversation_id"]
    assert sb.state.conversation(first["conversation_id"])["status"] == "open"  # D: incoming reopens


def test_after_cache_expiry_a_resolved_conversation_is_not_reused(sb, evolution):
    first = sb.lead_writes(evolution, LEAD, "Oi", jid_digits=LEAD_JID)
    sb.resolve(first["conversation_id"])
    sb.advance(1801)
    second = sb.lead_writes(evolution, LEAD, "Voltei", jid_digits=LEAD_JID)
    assert second["conversation_id"] != first["conversation_id"]


def conversation_opened_by_nexa(sandbox: Sandbox, inbox_id: int, first_message: dict) -> int:
    """A hand-off that creates a second conversation for the lead in the same inbox, with an agent's reply."""
    body = {"contact_id": contact_of(sandbox, first_message)["id"], "inbox_id": inbox_id}
    display_id = Client(sandbox).post("conversations", body).json()["id"]
    sandbox.agent_reply(display_id, 2, "Olá, sou o Bruno do time de vendas")
    return display_id


def test_after_cache_expiry_the_newest_non_resolved_conversation_of_the_inbox_wins(running):
    evolution = running.add_evolution_inbox("atlas", EVOLUTION_NUMBER)["id"]
    first = running.lead_writes(evolution, LEAD, "Oi", jid_digits=LEAD_JID)
    nexa = conversation_opened_by_nexa(running, evolution, first)
    running.advance(1801)
    second = running.lead_writes(evolution, LEAD, "Oi Bruno", jid_digits=LEAD_JID)
    assert second["conversation_id"] == nexa != first["conversation_id"]


def test_a_live_cache_entry_beats_a_newer_conversation_created_in_chatwoot(running):
    evolution = running.add_evolution_inbox("atlas", EVOLUTION_NUMBER)["id"]
    first = running.lead_writes(evolution, LEAD, "Oi", jid_digits=LEAD_JID)
    conversation_opened_by_nexa(running, evolution, first)
    second = running.lead_writes(evolution, LEAD, "Oi de novo", jid_digits=LEAD_JID)
    assert second["conversation_id"] == first["conversation_id"]


def test_evolution_rewrites_the_identifier_of_a_contact_found_by_its_twin(running):
    evolution = running.add_evolution_inbox("atlas", EVOLUTION_NUMBER)["id"]
    contact_id = contact_id_created(running, phone_number=LEAD, identifier="nexa-lead-12")
    message = running.lead_writes(evolution, LEAD, "Oi", push_name="Maria", jid_digits=LEAD_JID)
    contact = contact_of(running, message)
    assert (contact["id"], contact["identifier"], contact["phone_number"]) == (
        contact_id,
        f"{LEAD_JID}@s.whatsapp.net",
        LEAD,
    )
    assert len(running.state.contacts) == 1


def test_identifier_held_by_another_contact_is_left_alone_as_a_failed_merge(running):
    evolution = running.add_evolution_inbox("atlas", EVOLUTION_NUMBER)["id"]
    contact_id_created(running, phone_number=LEAD, identifier="nexa-lead-12")
    contact_id_created(running, name="Maria (antigo)", identifier=f"{LEAD_JID}@s.whatsapp.net")
    message = running.lead_writes(evolution, LEAD, "Oi", jid_digits=LEAD_JID)
    assert contact_of(running, message)["identifier"] == "nexa-lead-12"


def test_evolution_conversation_has_no_source_id_so_it_adds_a_contact_inbox(sb, evolution):
    sb.lead_writes(evolution, LEAD, "Oi", jid_digits=LEAD_JID)
    rows = [r for r in sb.state.contact_inboxes if r["inbox_id"] == evolution]
    conversation = sb.state.conversations[0]
    assert len(rows) == 2 and conversation["contact_inbox_id"] == rows[1]["id"]  # one from the contact, one new
    assert all(len(r["source_id"]) == 36 for r in rows)


def test_conversation_pending_option_creates_pending_conversations(sb):
    inbox_id = sb.add_evolution_inbox("atlas", EVOLUTION_NUMBER, conversation_pending=True)["id"]
    message = sb.lead_writes(inbox_id, LEAD, "Oi")
    assert sb.state.conversation(message["conversation_id"])["status"] == "pending"


def test_reopen_option_takes_a_resolved_conversation_back_as_pending(sb):
    options = {"reopen_conversation": True, "conversation_pending": True, "cache_seconds": 0}
    inbox_id = sb.add_evolution_inbox("atlas", EVOLUTION_NUMBER, **options)["id"]
    first = sb.lead_writes(inbox_id, LEAD, "Oi")
    sb.resolve(first["conversation_id"])
    second = sb.lead_writes(inbox_id, LEAD, "Voltei")
    assert second["conversation_id"] == first["conversation_id"]
    assert sb.state.conversation(first["conversation_id"])["status"] == "pending"


# --- Evolution: an agent replies (CHANNELS §2.1) ---


def test_agent_reply_is_delivered_to_the_identifier_digits_from_the_inbox_number(sb, evolution):
    display_id = sb.lead_writes(evolution, LEAD, "Oi", jid_digits=LEAD_JID)["conversation_id"]
    sb.agent_reply(display_id, 2, "Olá! Posso ajudar?")
    assert sb.whatsapp_received(LEAD) == [
        {
            "to": LEAD_JID,
            "from_number": EVOLUTION_NUMBER,
            "inbox_id": evolution,
            "conversation_id": display_id,
            "content": "Olá! Posso ajudar?",
            "via": "evolution",
        }
    ]


def test_agent_reply_without_identifier_goes_to_the_phone_digits(running):
    evolution = running.add_evolution_inbox("atlas", EVOLUTION_NUMBER)["id"]
    running.whatsapp_register(LEAD)
    display_id = conversation_by_nexa(running, evolution, phone_number=LEAD)
    assert Client(running).post(f"conversations/{display_id}/messages", {"content": "Olá Maria"}).status_code == 200
    assert [(e["to"], e["content"]) for e in running.whatsapp_received()] == [("5511987654321", "Olá Maria")]


def test_agent_reply_reaches_a_lead_known_to_whatsapp_only_by_the_twin_number(running):
    evolution = running.add_evolution_inbox("atlas", EVOLUTION_NUMBER)["id"]
    running.whatsapp_register(f"+{LEAD_JID}")
    display_id = conversation_by_nexa(running, evolution, phone_number=LEAD)
    running.agent_reply(display_id, 2, "Olá Maria")
    assert [(e["to"], e["content"]) for e in running.whatsapp_received(LEAD)] == [(LEAD_JID, "Olá Maria")]


def test_private_identifier_gets_the_not_sent_note_and_nothing_is_delivered(running):
    evolution = running.add_evolution_inbox("atlas", EVOLUTION_NUMBER)["id"]
    running.whatsapp_register(LEAD)
    display_id = conversation_by_nexa(running, evolution, phone_number=LEAD, identifier="nexa-lead-12")
    running.agent_reply(display_id, 2, "Olá Maria")
    note = running.state.messages[-1]
    assert running.whatsapp_received() == []
    assert note["private"] and note["sender_id"] == running.evolution_user_id
    assert note["content"].startswith("🚨") and "não foi enviada: 12 " in note["content"]


def test_private_notes_are_never_sent(sb, evolution):
    display_id = sb.lead_writes(evolution, LEAD, "Oi")["conversation_id"]
    sb.add_private_note(display_id, 2, "Lead quente")
    assert sb.whatsapp_received() == []


def test_evolution_command_contact_is_never_touched(running):
    evolution = running.add_evolution_inbox("atlas", EVOLUTION_NUMBER)["id"]
    display_id = conversation_by_nexa(running, evolution, name="EvolutionAPI", phone_number="+123456")
    running.agent_reply(display_id, 1, "status")
    assert running.whatsapp_received() == [] and running.state.messages[-1]["content"] == "status"


def test_bot_replies_are_delivered_and_mirrored_as_outgoing_from_the_integration_user(sb, evolution):
    asked = sb.lead_writes(evolution, LEAD, "Quanto custa?", jid_digits=LEAD_JID)
    reply = sb.bot_replies(evolution, LEAD, "A partir de R$ 99")
    assert reply["conversation_id"] == asked["conversation_id"]
    assert (reply["message_type"], reply["sender_type"], reply["sender_id"]) == (1, "User", sb.evolution_user_id)
    assert reply["source_id"].startswith("WAID:") and not reply["private"]
    assert texts(sb) == ["A partir de R$ 99"]  # delivered once: the mirror is not echoed back


def test_bot_replies_are_for_evolution_inboxes_only(sb, cloud):
    with pytest.raises(ValueError):
        sb.bot_replies(cloud, LEAD, "Oi")
    with pytest.raises(ValueError):
        sb.lead_writes(1, LEAD, "Oi")


def test_two_evolution_inboxes_keep_separate_conversations_and_answer_from_their_own_number(sb, evolution):
    other = sb.add_evolution_inbox("vendas", OTHER_NUMBER)["id"]
    first = sb.lead_writes(evolution, LEAD, "Oi Atlas", jid_digits=LEAD_JID)["conversation_id"]
    second = sb.lead_writes(other, LEAD, "Oi Vendas", jid_digits=LEAD_JID)["conversation_id"]
    sb.agent_reply(first, 2, "Daqui é o Atlas")
    sb.agent_reply(second, 3, "Daqui é Vendas")
    assert first != second and len(sb.state.contacts) == 1
    assert [(e["from_number"], e["conversation_id"]) for e in sb.whatsapp_received(LEAD)] == [
        (EVOLUTION_NUMBER, first),
        (OTHER_NUMBER, second),
    ]


def test_channel_messages_emit_the_usual_webhooks_with_channel_and_sender(sb, evolution):
    display_id = sb.lead_writes(evolution, LEAD, "Oi", push_name="Maria", jid_digits=LEAD_JID)["conversation_id"]
    sb.agent_reply(display_id, 2, "Olá!")
    assert [e["event"] for e in sb.events] == [
        "contact_created",
        "conversation_created",
        "message_created",
        "contact_updated",
        "message_created",
        "conversation_updated",
    ]
    incoming = sb.events[2]
    assert incoming["conversation"]["channel"] == "Channel::Api" and incoming["source_id"].startswith("WAID:")
    sender = incoming["conversation"]["meta"]["sender"]
    assert (sender["identifier"], sender["phone_number"]) == (f"{LEAD_JID}@s.whatsapp.net", f"+{LEAD_JID}")


# --- native WhatsApp (CHANNELS §3) ---


@pytest.mark.parametrize("endpoint", ["contacts", "contact_inboxes", "conversations"])
def test_whatsapp_source_id_must_be_a_wa_id(running, endpoint):
    cloud = running.add_whatsapp_inbox(CLOUD_NUMBER)["id"]
    api = Client(running)
    contact_id = api.post("contacts", {"name": "Maria", "phone_number": LEAD}).json()["payload"]["contact"]["id"]
    body = {"inbox_id": cloud, "source_id": "nexa-12"}
    response = {
        "contacts": lambda: api.post("contacts", {"name": "Outra", **body}),
        "contact_inboxes": lambda: api.post(f"contacts/{contact_id}/contact_inboxes", body),
        "conversations": lambda: api.post("conversations", {"contact_id": contact_id, **body}),
    }[endpoint]()
    assert response.status_code == 422 and response.json()["attributes"] == ["source_id"]
    assert "invalid source id for whatsapp inbox" in response.json()["message"]
    assert len(running.state.contacts) == 1 and running.state.contact_inboxes == []


def test_whatsapp_contact_without_source_id_gets_its_phone_digits(running):
    cloud = running.add_whatsapp_inbox(CLOUD_NUMBER)["id"]
    payload = Client(running).post("contacts", {"name": "Maria", "phone_number": LEAD, "inbox_id": cloud}).json()
    assert payload["payload"]["contact_inbox"]["source_id"] == "5511987654321"


def test_whatsapp_contact_without_phone_is_422_and_not_created(running):
    cloud = running.add_whatsapp_inbox(CLOUD_NUMBER)["id"]
    response = Client(running).post("contacts", {"name": "Maria", "inbox_id": cloud})
    assert response.json() == {"error": "param is missing or the value is empty: contact phone number"}
    assert response.status_code == 422 and running.state.contacts == []


def test_whatsapp_12_digit_wa_id_matches_the_13_digit_source_id(running):
    cloud = running.add_whatsapp_inbox(CLOUD_NUMBER)["id"]
    api = Client(running)
    payload = api.post("contacts", {"name": "Maria", "phone_number": LEAD, "inbox_id": cloud}).json()["payload"]
    display_id = api.post("conversations", {"source_id": payload["contact_inbox"]["source_id"]}).json()["id"]
    message = running.lead_writes(cloud, LEAD, "Oi", jid_digits=LEAD_JID)
    assert message["conversation_id"] == display_id and len(running.state.contact_inboxes) == 1


def test_whatsapp_lead_unknown_to_chatwoot_gets_a_contact_and_a_conversation(sb, cloud):
    message = sb.lead_writes(cloud, LEAD, "Oi", push_name="Maria")
    contact = contact_of(sb, message)
    assert (contact["name"], contact["phone_number"]) == ("Maria", LEAD)
    assert sb.state.contact_inboxes[0]["source_id"] == "5511987654321"
    assert sb.state.conversation(message["conversation_id"])["status"] == "open"
    assert sb.events[2]["conversation"]["channel"] == "Channel::Whatsapp"


def test_whatsapp_reply_within_24_hours_is_delivered_to_the_source_id(sb, cloud):
    display_id = sb.lead_writes(cloud, LEAD, "Oi", jid_digits=LEAD_JID)["conversation_id"]
    sb.advance(DAY - 60)
    reply = sb.agent_reply(display_id, 2, "Olá!")
    assert reply["status"] == "sent" and reply["source_id"].startswith("wamid.")
    assert [(e["to"], e["from_number"], e["via"]) for e in sb.whatsapp_received()] == [
        (LEAD_JID, CLOUD_NUMBER, "whatsapp_cloud")
    ]


def test_whatsapp_reply_after_24_hours_fails_for_want_of_a_template_and_is_not_delivered(running):
    cloud = running.add_whatsapp_inbox(CLOUD_NUMBER)["id"]
    display_id = running.lead_writes(cloud, LEAD, "Oi")["conversation_id"]
    running.advance(DAY + 1)
    api = Client(running)
    assert api.get(f"conversations/{display_id}").json()["can_reply"] is False
    answer = api.post(f"conversations/{display_id}/messages", {"content": "Ainda tem interesse?"}).json()
    stored = api.get(f"conversations/{display_id}/messages").json()["payload"][-1]
    assert (stored["id"], stored["status"]) == (answer["id"], "failed")
    assert "template" in stored["content_attributes"]["external_error"]
    assert running.whatsapp_received() == [] and running.events[-1]["event"] == "message_updated"
    assert running.state_dump()["whatsapp_failures"][0]["content"] == "Ainda tem interesse?"


def test_incoming_messages_through_the_api_are_only_for_api_inboxes(running):
    cloud = running.add_whatsapp_inbox(CLOUD_NUMBER)["id"]
    display_id = running.lead_writes(cloud, LEAD, "Oi")["conversation_id"]
    response = Client(running).post(
        f"conversations/{display_id}/messages", {"content": "x", "message_type": "incoming"}
    )
    assert (response.status_code, response.json()) == (
        422,
        {"error": "Incoming messages are only allowed in Api inboxes"},
    )


# --- phone filter rules (CHANNELS §4, API-NOTES B.4) ---


def test_legacy_filter_rule_misses_a_plus_value_but_matches_digits(running):
    contact_id = contact_id_created(running, phone_number=LEAD)
    running.set_phone_filter("legacy")
    assert (phone_filter(running, LEAD), phone_filter(running, LEAD[1:])) == ([], [contact_id])


def test_v4_15_filter_rule_matches_plus_and_digits(running):
    contact_id = contact_id_created(running, phone_number=LEAD)
    assert phone_filter(running, LEAD) == phone_filter(running, LEAD[1:]) == [contact_id]


def test_unknown_filter_rule_is_refused():
    with pytest.raises(ValueError):
        Sandbox(phone_filter="v3")


def test_evolution_finds_the_contact_under_the_legacy_rule_too(sb, evolution):
    sb.set_phone_filter("legacy")
    first = sb.lead_writes(evolution, LEAD, "Oi", jid_digits=LEAD_JID)
    sb.advance(1801)
    assert (
        contact_of(sb, sb.lead_writes(evolution, LEAD, "Oi", jid_digits=LEAD_JID))["id"] == contact_of(sb, first)["id"]
    )


# --- time, page and command line ---


def test_advance_moves_the_timestamps_the_sandbox_writes(sb, evolution):
    before = sb.lead_writes(evolution, LEAD, "Oi")
    sb.advance(3600)
    after = sb.lead_writes(evolution, LEAD, "Oi de novo")
    assert 3600 <= after["created_at"] - before["created_at"] < 3660


def test_page_shows_the_inbox_and_what_the_lead_received(running):
    evolution = running.add_evolution_inbox("atlas", EVOLUTION_NUMBER)["id"]
    display_id = running.lead_writes(evolution, LEAD, "Oi", push_name="Maria <SP>")["conversation_id"]
    running.agent_reply(display_id, 2, "Olá <b>Maria</b>")
    page = requests.get(f"{running.base_url}/", timeout=5).text
    assert "atlas · Evolution API · +5511900001111" in page and "Maria &lt;SP&gt;" in page
    assert "✓ +5511900001111 → 5511987654321 via evolution: Olá &lt;b&gt;Maria&lt;/b&gt;" in page


def test_page_shows_failed_deliveries_and_lets_the_lead_write(running):
    cloud = running.add_whatsapp_inbox(CLOUD_NUMBER)["id"]
    display_id = running.lead_writes(cloud, LEAD, "Oi")["conversation_id"]
    running.advance(DAY + 1)
    running.agent_reply(display_id, 2, "Tarde demais")
    form = {"content": "Voltei"}
    page = requests.post(f"{running.base_url}/sandbox/conversations/{display_id}/lead_writes", data=form, timeout=5)
    assert "✗ not delivered to 5511987654321 via whatsapp_cloud" in page.text and "Voltei" in page.text


def test_command_line_options_create_the_inboxes():
    argv = ["--evolution-inbox", f"atlas={EVOLUTION_NUMBER}", "--evolution-inbox", f"vendas={OTHER_NUMBER}"]
    options = vars(parser_build().parse_args([*argv, "--whatsapp-inbox", CLOUD_NUMBER, "--phone-filter", "legacy"]))
    with sandbox_from_options(options).start() as sandbox:
        summary = sandbox_summary(sandbox)
        kinds = [(i["id"], i["name"], i["channel_type"]) for i in sandbox.state.inboxes]
    assert kinds == [
        (1, "Atlas Nexa", "Channel::Api"),
        (2, "atlas", "Channel::Api"),
        (3, "vendas", "Channel::Api"),
        (4, f"WhatsApp {CLOUD_NUMBER}", "Channel::Whatsapp"),
    ]
    assert f"Inbox 2: atlas (Evolution API, {EVOLUTION_NUMBER}" in summary and "Inbox 4:" in summary
    assert sandbox.state.config["phone_filter"] == "legacy"


def test_command_line_refuses_a_malformed_evolution_inbox():
    root = Path(__file__).resolve().parents[1]
    result = subprocess.run(
        [sys.executable, "-m", "chatwoot_sandbox", "--evolution-inbox", "atlas"],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=20,
        check=False,
    )
    assert result.returncode == 1 and "INSTANCE=+55NUMBER" in result.stderr


def test_with_whatsapp_everyone_a_lead_that_never_wrote_is_answered_but_not_a_bogus_number():
    """The demo's leads never wrote to the sandbox; Evolution's failure note still guards nonsense (CHANNELS §2.1)."""
    from chatwoot_sandbox.cli import parser_build, sandbox_from_options

    options = vars(parser_build().parse_args(["--evolution-inbox", "loja=+551140001111", "--whatsapp-everyone"]))
    world = sandbox_from_options(options).world
    assert world.on_whatsapp("5511987654321") == "5511987654321"
    assert world.on_whatsapp("12") is None
