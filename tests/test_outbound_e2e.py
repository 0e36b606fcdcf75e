"""End to end: Nexa's events reach a subscriber through the real worker, signed, once each and in order per lead,
while the subscriber fails, goes away, and the worker is killed."""

import time
from collections import defaultdict

import pytest

from handoff.services import handoffs_sweep
from outbound.delivery import CLAIM
from outbound.models import Delivery, OutboundEvent, Subscription
from tests.test_handoff_e2e import trigger_payload
from tests.workers import Worker, settle

pytestmark = pytest.mark.django_db(transaction=True)

LEADS = 4
EACH_LEAD = [
    "handoff.queued",
    "lead.qualified",
    "handoff.completed",
    "message.agent_sent",
    "conversation.human_replied",
    "lead.converted",
    "lead.returned_to_bot",
]


@pytest.fixture
def chatwoot_webhooks(sandbox, live_server, settings):
    """The sandbox posts its webhooks to this test's Nexa, signed, as Chatwoot does."""
    from chatwoot_sandbox.webhooks import WebhookSender

    secret = "segredo-do-webhook"
    settings.CHATWOOT_WEBHOOK_SECRETS = [secret]
    sandbox.webhook_secret = secret
    sandbox.webhooks = WebhookSender(f"{live_server.url}/api/v1/webhooks/chatwoot/", secret)
    return sandbox


@pytest.fixture
def worker(sandbox, tmp_path, settings):
    settings.CHATWOOT_BASE_URL = sandbox.base_url
    process = Worker(sandbox, settings.SECRET_KEY, tmp_path / "qcluster.log", OUTBOUND_RETRY_BASE_SECONDS="0.3").start()
    yield process
    process.stop()


def delivered(seconds: int = 120, *, worker: Worker) -> None:
    """Play the scheduler until every delivery has been delivered."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if Delivery.objects.exists() and not Delivery.objects.exclude(state=Delivery.State.DELIVERED).exists():
            return
        assert worker.alive(), worker.log_tail()
        handoffs_sweep()
        time.sleep(0.5)
    states = list(Delivery.objects.values_list("state", "attempts", "last_error"))
    pytest.fail(f"deliveries not all delivered in {seconds}s: {states}\n{worker.log_tail()}")


def test_every_event_reaches_the_subscriber_once_in_order_through_failures_and_a_kill(
    api, chatwoot_webhooks, receiver, worker
):
    sandbox = chatwoot_webhooks
    Subscription.objects.create(name="n8n", url=receiver.url, secrets=receiver.secret)
    receiver.answers = [500, 503, 429, 500]  # the first attempts fail
    for index in range(LEADS):
        assert api.post("/api/v1/handoffs/", trigger_payload(index), format="json").status_code == 202
    handoffs = settle(LEADS, worker=worker)

    receiver.down = True  # the subscriber goes away while the agents work
    for handoff in handoffs:
        sandbox.agent_reply(handoff.conversation_id, handoff.assignee_id, f"Olá, lead {handoff.lead_id}!")
        sandbox.resolve(handoff.conversation_id, handoff.assignee_id)
    assert sandbox.wait_for_webhooks(timeout=20)
    deadline = time.monotonic() + 60
    while OutboundEvent.objects.count() < LEADS * len(EACH_LEAD) and time.monotonic() < deadline:
        handoffs_sweep()
        time.sleep(0.5)
    worker.kill()  # events waiting for a dead subscriber survive the worker's death
    worker.start()
    receiver.down = False
    # A delivery the killed worker had claimed waits out its claim (CLAIM) before another worker sends it again.
    delivered(int(CLAIM.total_seconds()) + 60, worker=worker)

    assert receiver.bad_signatures == 0
    ids = [webhook_id for webhook_id, _ in receiver.accepted]
    assert len(ids) == len(set(ids)) == OutboundEvent.objects.count() == LEADS * len(EACH_LEAD)
    by_lead = defaultdict(list)
    for _, event in receiver.accepted:
        by_lead[event["data"]["lead"]["id"]].append(event["type"])
    for lead_id, types in by_lead.items():
        stored = list(
            OutboundEvent.objects.filter(lead_id=lead_id).order_by("created_at").values_list("type", flat=True)
        )
        assert types == stored  # in the order they happened
        assert sorted(types) == sorted(EACH_LEAD)
    assert receiver.refused  # the failures and the outage really happened


def test_bot_should_reply_and_the_events_tell_the_same_story_at_every_step(api, chatwoot_webhooks, receiver, worker):
    """Qualification, handoff, the human's reply, the resolution and the lead back with the bot: after each step the
    API's bot_should_reply and the newest event's agree, and say what Atlas must do."""
    sandbox = chatwoot_webhooks
    Subscription.objects.create(name="atlas", url=receiver.url, secrets=receiver.secret)

    seen = []

    def after(step, types: list[str], should_reply: bool) -> None:
        """The next events are `types` (the human's reply comes in two Chatwoot webhooks, processed in either
        order); each says `should_reply`, and so does the API."""
        deadline = time.monotonic() + 60
        while len(receiver.accepted) < len(seen) + len(types) and time.monotonic() < deadline:
            handoffs_sweep()
            time.sleep(0.3)
        events = [event for _, event in receiver.accepted[len(seen) : len(seen) + len(types)]]
        seen.extend(events)
        assert sorted(event["type"] for event in events) == sorted(types), step  # a step's events, in any order
        assert [event["data"]["lead"]["bot_should_reply"] for event in events] == [should_reply] * len(types), step
        lead_id = events[-1]["data"]["lead"]["id"]
        assert api.get(f"/api/v1/leads/{lead_id}/").json()["bot_should_reply"] is should_reply, step

    assert api.post("/api/v1/handoffs/", trigger_payload(1), format="json").status_code == 202
    after("qualified", ["handoff.queued", "lead.qualified"], should_reply=False)
    (handoff,) = settle(1, worker=worker)
    after("handed off", ["handoff.completed"], should_reply=False)
    sandbox.agent_reply(handoff.conversation_id, handoff.assignee_id, "Oi! Aqui é a Ana, do comercial.")
    after("human replied", ["message.agent_sent", "conversation.human_replied"], should_reply=False)
    agent_sent = next(event["data"] for event in seen[-2:] if event["type"] == "message.agent_sent")
    assert agent_sent["message"]["content"] == "Oi! Aqui é a Ana, do comercial."
    transcript = api.get(f"/api/v1/leads/{handoff.lead_id}/messages/").json()["results"]
    assert transcript[-1]["sender"] == "agent"  # the same reply, in the transcript Atlas reads
    assert transcript[-1]["chatwoot_message_id"] == agent_sent["message"]["chatwoot_message_id"] is not None
    assert agent_sent["lead"]["phone"] == "+5511970000001" and agent_sent["inbox"]["id"] == handoff.inbox_id
    sandbox.resolve(handoff.conversation_id, handoff.assignee_id)
    after("resolved", ["lead.converted", "lead.returned_to_bot"], should_reply=True)
