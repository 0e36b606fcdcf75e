"""End to end: Atlas's trigger → the real django-q2 worker (qcluster) → the Chatwoot sandbox failing 20% of calls.

The test process plays the django-q2 scheduler: it runs the sweep every second instead of every minute.
"""

import signal
import time
from collections import Counter

import pytest

from handoff.models import ChatwootCall
from tests.workers import Worker, assert_exactly_once, settle

pytestmark = pytest.mark.django_db(transaction=True)

LEADS = 20


@pytest.fixture
def worker(sandbox, tmp_path, settings):
    """The real worker: `manage.py qcluster` in its own process, configured for the sandbox and fast retries."""
    settings.CHATWOOT_BASE_URL = sandbox.base_url
    process = Worker(sandbox, settings.SECRET_KEY, tmp_path / "qcluster.log").start()
    yield process
    process.stop()
    if process.process.returncode not in (0, -signal.SIGTERM):
        print(f"qcluster exited with {process.process.returncode}:\n{process.log_tail()}")


def trigger_payload(index: int) -> dict:
    return {
        "id": f"atlas-e2e-{index}",
        "name": f"Lead Teste {index}",
        "phone": f"+55 11 9{70_000_000 + index}",
        "email": f"lead{index}@exemplo.com.br",
        "interest": "Energia solar residencial",
        "qualification_score": 8,
        "bot_history": f"Lead: Oi, sou o lead {index}\nBot: Olá! Como posso ajudar?\nLead: Quero um orçamento",
    }


def test_every_lead_reaches_chatwoot_exactly_once_through_the_real_worker_despite_faults(api, sandbox, worker):
    sandbox.set_faults(
        rate=0.2,
        kinds=("error", "429", "reset", "timeout_after_commit", "reset_after_commit"),
        seed=11,
        slow_seconds=1.5,
    )
    for index in range(LEADS):
        assert api.post("/api/v1/handoffs/", trigger_payload(index), format="json").status_code == 202
    handoffs = settle(LEADS, worker=worker)

    rows = assert_exactly_once(sandbox, leads=LEADS, handoffs=handoffs)
    notes = [m for m in rows["messages"] if m["private"]]
    faults = Counter(r.outcome for r in sandbox.requests if isinstance(r.outcome, str))
    attempts = sum(h.attempts for h in handoffs)
    print(
        f"\nend-to-end: {LEADS} leads → {len(rows['conversations'])} conversations, "
        f"{len(rows['contacts'])} contacts, {len(notes)} notes; {attempts} attempts; "
        f"{ChatwootCall.objects.count()} Chatwoot calls; injected faults: {dict(faults)}"
    )
    assert sum(faults.values()) > 0, "the sandbox must actually have failed some calls"


def test_an_agent_replies_and_resolves_in_chatwoot_and_the_lead_ends_convertido(
    api, sandbox, worker, live_server, settings
):
    from django_q.models import Success

    from chatwoot_sandbox.webhooks import WebhookSender
    from handoff.models import WebhookDelivery
    from leads.models import Lead, Message

    secret = "segredo-do-webhook"
    settings.CHATWOOT_WEBHOOK_SECRETS = [secret]
    sandbox.webhook_secret = secret
    sandbox.webhooks = WebhookSender(f"{live_server.url}/api/v1/webhooks/chatwoot/", secret)
    assert api.post("/api/v1/handoffs/", trigger_payload(1), format="json").status_code == 202
    (handoff,) = settle(1, worker=worker)
    assert api.get(f"/api/v1/leads/{handoff.lead_id}/").json()["bot_should_reply"] is False

    sandbox.agent_reply(handoff.conversation_id, handoff.assignee_id, "Olá! Sou do time comercial, vamos conversar?")
    sandbox.resolve(handoff.conversation_id, handoff.assignee_id)
    assert sandbox.wait_for_webhooks(timeout=10)

    # Chatwoot delivers its webhooks in no guaranteed order and Nexa processes them concurrently: the resolution may
    # land before the reply, so wait for both.
    def settled():
        lead = Lead.objects.get(pk=handoff.lead_id)
        replied = Message.objects.filter(conversation__lead=lead, sender=Message.Sender.AGENT).exists()
        return lead.status == Lead.Status.CONVERTIDO and replied

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not settled():
        time.sleep(0.5)
    lead = Lead.objects.get(pk=handoff.lead_id)
    assert lead.status == Lead.Status.CONVERTIDO
    reply = Message.objects.get(conversation__lead=lead, sender=Message.Sender.AGENT)
    assert reply.content == "Olá! Sou do time comercial, vamos conversar?"
    handoff.refresh_from_db()
    assert handoff.first_reply_at is not None and handoff.outcome == "convertido"
    # Atlas reads the whole transcript: its own phase, then the agent's reply from Chatwoot.
    transcript = api.get(f"/api/v1/leads/{lead.pk}/messages/").json()["results"]
    assert [m["sender"] for m in transcript] == ["lead", "bot", "lead", "agent"]
    agent = transcript[-1]
    assert (agent["content"], agent["agent_name"], agent["handoff"]) == (
        reply.content,
        handoff.assignee_name,
        str(handoff.pk),
    )
    assert agent["chatwoot_message_id"] == reply.chatwoot_message_id is not None
    assert api.get(f"/api/v1/leads/{lead.pk}/").json()["bot_should_reply"] is True
    # The worker ran the dispatcher and the deliveries' tasks; it keeps no successful task (each records its own).
    assert WebhookDelivery.objects.filter(state=WebhookDelivery.State.PROCESSED).count() >= 3
    assert not Success.objects.exists()
