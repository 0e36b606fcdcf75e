"""End to end on WhatsApp: Atlas's trigger → the real worker → the sandbox's Evolution and WhatsApp inboxes → the
agent's reply on the lead's phone → the lead's answer in the same conversation, with Chatwoot's webhooks coming back
through Nexa's receiver (CHANNELS.md).
"""

import signal
import time

import pytest

from chatwoot_sandbox.webhooks import WebhookSender
from handoff.models import Handoff, WebhookDelivery
from handoff.services.inboxes import inboxes_refresh
from leads.models import Lead, Message
from tests.test_handoff_channels import PHONE, RIO, RIO_LEAD, SP, TWIN_DIGITS, WHATSAPP
from tests.workers import Worker, settle

pytestmark = pytest.mark.django_db(transaction=True)

SECRET = "segredo-dos-webhooks"


@pytest.fixture
def inboxes(sandbox, settings, live_server) -> dict[str, int]:
    """Two Evolution numbers and a native WhatsApp inbox; Nexa configured for the sandbox, its webhooks signed."""
    settings.CHATWOOT_BASE_URL, settings.CHATWOOT_ACCOUNT_ID = sandbox.base_url, 1
    settings.CHATWOOT_API_TOKEN, settings.CHATWOOT_INBOX_ID, settings.REDIS_URL = "sandbox-token", 1, ""
    settings.CHATWOOT_WEBHOOK_SECRETS = [SECRET]
    sandbox.webhook_secret = SECRET
    sandbox.webhooks = WebhookSender(f"{live_server.url}/api/v1/webhooks/chatwoot/", SECRET)
    ids = {
        "loja-sp": sandbox.add_evolution_inbox("loja-sp", SP)["id"],
        "loja-rio": sandbox.add_evolution_inbox("loja-rio", RIO)["id"],
        "whatsapp": sandbox.add_whatsapp_inbox(WHATSAPP)["id"],
    }
    for phone in (PHONE, RIO_LEAD):
        sandbox.whatsapp_register(phone)
    inboxes_refresh()
    return ids


@pytest.fixture
def worker(sandbox, inboxes, tmp_path, settings):
    process = Worker(sandbox, settings.SECRET_KEY, tmp_path / "qcluster.log").start()
    yield process
    process.stop()
    if process.process.returncode not in (0, -signal.SIGTERM):
        print(f"qcluster exited with {process.process.returncode}:\n{process.log_tail()}")


def trigger(api, phone: str = PHONE, **inbox) -> None:
    payload = {"phone": phone, "name": "Mariana", "qualification_score": 9, "bot_history": "Lead: Oi\nBot: Olá!"}
    response = api.post("/api/v1/handoffs/", {**payload, **inbox}, format="json")
    assert response.status_code == 202, response.content


def webhooks_settle(sandbox, seconds: float = 60) -> None:
    """Every webhook the sandbox sent has reached Nexa and been applied by the worker."""
    assert sandbox.wait_for_webhooks(timeout=seconds)
    wait_for(lambda: not WebhookDelivery.objects.filter(state=WebhookDelivery.State.RECEIVED).exists(), seconds)


def wait_for(predicate, seconds: float = 60):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if result := predicate():
            return result
        time.sleep(0.3)
    pytest.fail("timed out waiting")


def conversation_of(sandbox, message: dict) -> int:
    return message["conversation_id"]


@pytest.mark.parametrize(
    ("mirrored", "jid_digits"),
    [(True, None), (False, None), (True, TWIN_DIGITS)],
    ids=["bot phase mirrored", "nothing mirrored", "12-digit twin"],
)
def test_an_evolution_lead_is_answered_on_its_whatsapp_and_answers_in_the_same_conversation(
    api, sandbox, inboxes, worker, mirrored, jid_digits
):
    if mirrored:
        sandbox.lead_writes(inboxes["loja-sp"], PHONE, "Oi, quero energia solar", jid_digits=jid_digits)
        sandbox.bot_replies(inboxes["loja-sp"], PHONE, "Olá! Qual o valor da sua conta?")
    trigger(api, instance="loja-sp")
    (handoff,) = settle(1, worker=worker)
    assert handoff.state == Handoff.State.DONE and handoff.inbox_id == inboxes["loja-sp"]
    rows = sandbox.state_dump()
    assert len(rows["contacts"]) == 1 and len(rows["conversations"]) == 1
    assert [m for m in rows["messages"] if m["private"] and "nexa-handoff:" in m["content"]]

    sandbox.agent_reply(handoff.conversation_id, handoff.assignee_id, "Oi Mariana, aqui é o Bruno!")
    (delivered,) = [d for d in sandbox.whatsapp_received(PHONE) if d["content"] == "Oi Mariana, aqui é o Bruno!"]
    assert (delivered["to"], delivered["from_number"]) == (jid_digits or PHONE.lstrip("+"), SP)
    answer = sandbox.lead_writes(inboxes["loja-sp"], PHONE, "Pode me ligar às 18h?", jid_digits=jid_digits)
    assert conversation_of(sandbox, answer) == handoff.conversation_id
    assert len(sandbox.state_dump()["conversations"]) == 1

    webhooks_settle(sandbox)
    handoff.refresh_from_db()
    lead = Lead.objects.get(pk=handoff.lead_id)
    assert handoff.first_reply_agent_name == handoff.assignee_name and handoff.first_reply_at is not None
    senders = dict(Message.objects.filter(conversation__lead=lead).values_list("content", "sender"))
    assert senders["Oi Mariana, aqui é o Bruno!"] == Message.Sender.AGENT
    assert senders["Pode me ligar às 18h?"] == Message.Sender.LEAD


def test_a_bot_reply_evolution_mirrors_after_the_handoff_is_not_a_human_reply(api, sandbox, inboxes, worker):
    trigger(api, instance="loja-sp")
    (handoff,) = settle(1, worker=worker)
    sandbox.bot_replies(inboxes["loja-sp"], PHONE, "Um consultor já vai falar com você!")
    webhooks_settle(sandbox)
    handoff.refresh_from_db()
    assert handoff.first_reply_at is None
    assert Message.objects.get(content="Um consultor já vai falar com você!").sender == Message.Sender.BOT
    assert api.get(f"/api/v1/leads/{handoff.lead_id}/").json()["bot_should_reply"] is False


def test_a_native_whatsapp_lead_is_answered_from_the_inbox_number(api, sandbox, inboxes, worker):
    sandbox.lead_writes(inboxes["whatsapp"], PHONE, "Oi, vi o anúncio")
    trigger(api, inbox_id=inboxes["whatsapp"])
    (handoff,) = settle(1, worker=worker)
    assert len(sandbox.state_dump()["contacts"]) == 1
    sandbox.agent_reply(handoff.conversation_id, handoff.assignee_id, "Olá! Aqui é a Ana.")
    (delivered,) = sandbox.whatsapp_received(PHONE)
    assert (delivered["to"], delivered["from_number"]) == (PHONE.lstrip("+"), WHATSAPP)
    answer = sandbox.lead_writes(inboxes["whatsapp"], PHONE, "Oi Ana!")
    assert conversation_of(sandbox, answer) == handoff.conversation_id


def test_two_numbers_each_lead_answered_from_the_number_it_wrote_to(api, sandbox, inboxes, worker):
    sandbox.lead_writes(inboxes["loja-sp"], PHONE, "Oi de São Paulo")
    sandbox.lead_writes(inboxes["loja-rio"], RIO_LEAD, "Oi do Rio")
    trigger(api, PHONE, instance="loja-sp")
    trigger(api, RIO_LEAD, instance="loja-rio")
    handoffs = {h.lead.phone: h for h in settle(2, worker=worker)}
    for phone, number in ((PHONE, SP), (RIO_LEAD, RIO)):
        handoff = handoffs[phone]
        sandbox.agent_reply(handoff.conversation_id, handoff.assignee_id, f"Olá, {phone}")
        assert [d["from_number"] for d in sandbox.whatsapp_received(phone)] == [number]
    assert len(sandbox.state_dump()["conversations"]) == 2


def test_a_returning_lead_goes_back_to_its_agent_with_a_note(api, sandbox, inboxes, worker):
    trigger(api, instance="loja-sp")
    (first,) = settle(1, worker=worker)
    sandbox.agent_reply(first.conversation_id, first.assignee_id, "Proposta enviada!")
    sandbox.resolve(first.conversation_id, first.assignee_id)
    webhooks_settle(sandbox)
    assert Lead.objects.get(pk=first.lead_id).status == Lead.Status.CONVERTIDO

    back = sandbox.lead_writes(inboxes["loja-sp"], PHONE, "Oi, quero ampliar o sistema")  # Evolution opens one
    assert back["conversation_id"] != first.conversation_id
    webhooks_settle(sandbox)
    returned = wait_for(lambda: Handoff.objects.filter(trigger=Handoff.Trigger.RETURNED).first())
    assert api.get(f"/api/v1/leads/{first.lead_id}/").json()["bot_should_reply"] is False
    (first, returned) = sorted(settle(2, worker=worker), key=lambda h: h.created_at)
    assert returned.state == Handoff.State.DONE and returned.conversation_id == back["conversation_id"]
    assert len(sandbox.state_dump()["conversations"]) == 2
    lead_said = Message.objects.filter(conversation__lead_id=first.lead_id, sender=Message.Sender.LEAD)
    wait_for(lambda: lead_said.filter(content="Oi, quero ampliar o sistema").exists())  # whatever the webhooks' order
    assert returned.assignee_id == first.assignee_id  # back to the agent who had the lead
    notes = [
        m["content"]
        for m in sandbox.state_dump()["messages"]
        if m["private"] and m["conversation_id"] == returned.conversation_id
    ]
    assert any("O lead voltou a escrever" in note for note in notes)
    assert Lead.objects.get(pk=first.lead_id).status == Lead.Status.HANDED_OFF
