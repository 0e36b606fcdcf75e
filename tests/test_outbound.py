"""Signed events for subscribers: the outbox, Standard Webhooks signatures, delivery in order with retries."""

import json
from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from leads.models import Lead
from outbound import services
from outbound.delivery import deliveries_due, delivery_send, subscription_url_check
from outbound.models import Delivery, DeliveryAttempt, EventType, OutboundEvent, Subscription
from outbound.signing import secret_generate, signed_headers
from tests.event_receiver import signature_verify
from tests.factories import LeadFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def subscription(receiver):
    return Subscription.objects.create(name="n8n", url=receiver.url, secrets=receiver.secret)


def emit(lead=None, event_type=EventType.HANDOFF_COMPLETED, **data) -> OutboundEvent:
    return services.event_emit(event_type, lead=lead or LeadFactory(), **data)


def send_due(*, rounds: int = 10) -> None:
    """What the dispatcher's sender threads do, with time passing: every due delivery sent, retries made due."""
    for _ in range(rounds):
        Delivery.objects.filter(state=Delivery.State.PENDING).update(next_attempt_at=timezone.now())
        due = deliveries_due(now=timezone.now(), exclude=set(), limit=100)
        if not due:
            return
        for delivery_id in due:
            delivery_send(delivery_id=delivery_id)


# --- signatures --------------------------------------------------------------------------------------------


def test_the_signature_is_the_specifications_own_example():
    """The example of https://github.com/standard-webhooks/standard-webhooks (spec/standard-webhooks.md)."""
    from datetime import UTC, datetime

    headers = signed_headers(
        webhook_id="msg_p5jXN8AQM9LWM0D4loKWxJek",
        body='{"test": 2432232314}',
        secrets_=["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"],
        at=datetime.fromtimestamp(1614265330, tz=UTC),
    )
    assert headers == {
        "webhook-id": "msg_p5jXN8AQM9LWM0D4loKWxJek",
        "webhook-timestamp": "1614265330",
        "webhook-signature": "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
    }


def test_during_a_rotation_every_secret_signs_and_either_verifies():
    old, new = secret_generate(), secret_generate()
    body = '{"type": "lead.qualified"}'
    headers = signed_headers(webhook_id="msg_1", body=body, secrets_=[old, new], at=timezone.now())
    assert len(headers["webhook-signature"].split()) == 2
    assert signature_verify(old, headers, body.encode()) and signature_verify(new, headers, body.encode())
    assert not signature_verify(secret_generate(), headers, body.encode())
    assert not signature_verify(new, headers, body.replace("lead", "Lead").encode())


# --- the outbox --------------------------------------------------------------------------------------------


def test_an_event_exists_only_if_the_change_that_caused_it_commits(subscription):
    lead = LeadFactory()
    with pytest.raises(RuntimeError), transaction.atomic():
        emit(lead)
        raise RuntimeError("the change fails")
    assert not OutboundEvent.objects.exists() and not Delivery.objects.exists()


def test_without_a_subscription_that_takes_the_event_nothing_is_stored(receiver):
    Subscription.objects.create(
        name="só conversões", url=receiver.url, secrets=receiver.secret, event_types=["lead.lost"]
    )
    Subscription.objects.create(name="pausada", url=receiver.url, secrets=receiver.secret, active=False)
    assert emit() is None and not OutboundEvent.objects.exists()


def test_the_event_carries_the_lead_and_whether_the_bot_may_speak(subscription):
    lead = LeadFactory(name="Camila Rocha", external_id="atlas-123")
    event = emit(lead, EventType.LEAD_LOST, reason="sem orçamento")
    body = json.loads(event.body)
    assert body["type"] == "lead.lost" and body["data"]["reason"] == "sem orçamento"
    assert body["data"]["lead"]["external_id"] == "atlas-123" and body["data"]["lead"]["bot_should_reply"] is True
    assert event.webhook_id == f"msg_{event.pk.hex}"


# --- delivery ----------------------------------------------------------------------------------------------


def test_a_delivery_is_signed_sent_once_and_recorded(receiver, subscription):
    event = emit()
    send_due()
    assert receiver.accepted == [(event.webhook_id, json.loads(event.body))] and receiver.bad_signatures == 0
    delivery = Delivery.objects.get()
    assert delivery.state == Delivery.State.DELIVERED and delivery.attempts == 1
    assert list(DeliveryAttempt.objects.values_list("status", flat=True)) == [200]


@pytest.mark.parametrize("answers", [[500], [429], [503, 502, 500]])
def test_5xx_and_429_are_retried_later_with_backoff_until_delivered(receiver, subscription, answers):
    receiver.answers = list(answers)
    event = emit()
    delivery = Delivery.objects.get()
    delivery_send(delivery_id=delivery.pk)
    delivery.refresh_from_db()
    assert delivery.state == Delivery.State.PENDING
    assert timezone.now() + timedelta(seconds=2) < delivery.next_attempt_at < timezone.now() + timedelta(seconds=6)
    send_due()
    delivery.refresh_from_db()
    assert delivery.state == Delivery.State.DELIVERED and delivery.attempts == len(answers) + 1
    assert [webhook_id for webhook_id, _ in receiver.accepted] == [event.webhook_id]  # once, with its first id
    assert receiver.refused == [event.webhook_id] * len(answers)


def test_a_receiver_that_does_not_answer_is_retried(receiver, subscription, settings):
    settings.OUTBOUND_CONNECT_TIMEOUT = 0.5
    subscription.url = "http://127.0.0.1:9/nada"  # nothing listens there
    subscription.save()
    emit()
    delivery = Delivery.objects.get()
    assert delivery_send(delivery_id=delivery.pk) == Delivery.State.PENDING
    assert DeliveryAttempt.objects.get().error.startswith("sem conexão")


def test_a_410_disables_the_subscription(receiver, subscription):
    receiver.answers = [410]
    emit()
    send_due()
    subscription.refresh_from_db()
    assert not subscription.active and "410" in subscription.disabled_reason
    assert Delivery.objects.get().state == Delivery.State.FAILED
    assert emit() is None  # an inactive subscription takes no new event


def test_another_4xx_fails_at_once_and_the_admin_can_send_it_again_with_its_first_id(receiver, subscription):
    receiver.answers = [400]
    event = emit()
    send_due()
    delivery = Delivery.objects.get()
    assert delivery.state == Delivery.State.FAILED and delivery.last_status == 400
    services.delivery_redeliver(delivery=delivery)
    send_due()
    delivery.refresh_from_db()
    assert delivery.state == Delivery.State.DELIVERED
    assert receiver.accepted[0][0] == event.webhook_id


def test_retries_stop_a_day_after_the_event(receiver, subscription):
    receiver.down = True
    emit()
    Delivery.objects.update(retry_until=timezone.now())
    send_due()
    assert Delivery.objects.get().state == Delivery.State.FAILED


def test_events_of_one_lead_go_in_order_and_a_failing_one_holds_only_its_lead(receiver, subscription):
    first_lead, other_lead = LeadFactory(), LeadFactory()
    first = emit(first_lead, EventType.HANDOFF_COMPLETED)
    second = emit(first_lead, EventType.HUMAN_REPLIED)
    other = emit(other_lead, EventType.HANDOFF_COMPLETED)
    receiver.answers = [500]  # the first lead's first event fails once
    due = deliveries_due(now=timezone.now(), exclude=set(), limit=10)
    assert set(due) == set(Delivery.objects.filter(event__in=[first, other]).values_list("pk", flat=True))
    send_due()
    ids = [webhook_id for webhook_id, _ in receiver.accepted]
    assert ids.index(first.webhook_id) < ids.index(second.webhook_id) and other.webhook_id in ids


def test_in_production_a_subscriber_must_be_https_at_a_public_address(settings):
    settings.OUTBOUND_ALLOW_INSECURE_HTTP = False
    settings.OUTBOUND_ALLOW_PRIVATE_NETWORK = False
    with pytest.raises(ValidationError, match="https"):
        subscription_url_check("http://n8n.exemplo.com.br/webhook/nexa")
    with pytest.raises(ValidationError, match="privada"):
        subscription_url_check("https://127.0.0.1/webhook/nexa")
    with pytest.raises(ValidationError, match="privada"):
        subscription_url_check("https://10.0.0.7/webhook/nexa")


def test_a_subscriber_at_a_refused_address_gets_nothing_and_the_attempt_says_why(receiver, subscription, settings):
    settings.OUTBOUND_ALLOW_PRIVATE_NETWORK = False
    emit()
    send_due(rounds=1)
    assert receiver.accepted == [] and receiver.refused == []
    assert "privada" in DeliveryAttempt.objects.get().error


def test_no_secret_is_in_a_delivery_attempt_or_the_event(receiver, subscription):
    receiver.answers = [500]
    emit()
    send_due()
    key = receiver.secret.removeprefix("whsec_")
    stored = [*DeliveryAttempt.objects.values_list("response", "error"), *OutboundEvent.objects.values_list("body")]
    assert all(key not in str(row) for row in stored)


# --- the admin ---------------------------------------------------------------------------------------------


def test_a_new_subscription_gets_a_secret_and_a_bad_one_is_refused(admin_client, receiver):
    form = {"name": "n8n", "url": receiver.url, "event_types": ["message.agent_sent"], "secrets": "", "active": "on"}
    assert admin_client.post("/admin/outbound/subscription/add/", form).status_code == 302
    subscription = Subscription.objects.get()
    assert subscription.secrets.startswith("whsec_") and subscription.event_types == ["message.agent_sent"]
    form["secrets"] = "segredo-qualquer"
    response = admin_client.post(f"/admin/outbound/subscription/{subscription.pk}/change/", form)
    assert response.status_code == 200 and "whsec_" in response.content.decode()


def test_failed_deliveries_are_sent_again_from_the_admin(admin_client, receiver, subscription):
    receiver.answers = [400]
    emit()
    send_due()
    delivery = Delivery.objects.get()
    admin_client.post(
        "/admin/outbound/delivery/", {"action": "redeliver", "_selected_action": [delivery.pk], "post": "yes"}
    )
    delivery.refresh_from_db()
    assert delivery.state == Delivery.State.PENDING
    assert Lead.objects.count() == 1


# --- where events come from --------------------------------------------------------------------------------


def test_a_cancelled_handoff_gives_the_lead_back_to_the_bot(receiver, subscription, admin_user):
    from handoff.models import Handoff
    from handoff.services import handoff_cancel

    lead = LeadFactory(qualification_score=9)
    handoff = Handoff.objects.create(lead=lead, trigger=Handoff.Trigger.API, score=9, reason="Pedido do Atlas Nexa")
    handoff_cancel(handoff=handoff, user=admin_user)
    event = json.loads(OutboundEvent.objects.get().body)
    assert event["type"] == "lead.returned_to_bot" and event["data"]["reason"] == "cancelled"
    assert event["data"]["lead"]["bot_should_reply"] is True


def test_a_failed_handoff_is_an_event_and_gives_the_lead_back_to_the_bot(receiver, subscription, chatwoot, settings):
    from tests.test_handoff_pipeline import qualified_lead

    settings.CHATWOOT_API_TOKEN = "token-errado"  # a 401: the handoff fails at once, with the fix
    lead = qualified_lead()
    from handoff.services import handoff_process

    handoff_process(handoff_id=lead.handoffs.get().pk)
    types = list(OutboundEvent.objects.order_by("created_at").values_list("type", flat=True))
    assert types == ["handoff.queued", "lead.qualified", "handoff.failed", "lead.returned_to_bot"]
    qualified = json.loads(OutboundEvent.objects.get(type="lead.qualified").body)["data"]
    assert qualified["handoff"]["state"] == "queued" and qualified["lead"]["bot_should_reply"] is False
    failed = json.loads(OutboundEvent.objects.get(type="handoff.failed").body)["data"]
    assert "401" in failed["reason"] and failed["handoff"]["state"] == "failed"
    assert "token-errado" not in OutboundEvent.objects.get(type="handoff.failed").body


def test_a_weak_secret_is_refused():
    from outbound.signing import secret_valid

    assert secret_valid(secret_generate())
    assert not secret_valid("whsec_AAAA") and not secret_valid("whsec_não-é-base64") and not secret_valid("segredo")


def test_an_error_after_the_claim_is_a_recorded_attempt_retried_later_never_a_silent_loop(
    receiver, subscription, monkeypatch
):
    from outbound import delivery as sending

    def broken(delivery):
        raise RuntimeError("a bug")

    monkeypatch.setattr(sending, "_post", broken)
    emit()
    delivery = Delivery.objects.get()
    assert delivery_send(delivery_id=delivery.pk) == Delivery.State.PENDING
    delivery.refresh_from_db()
    assert delivery.attempts == 1 and delivery.next_attempt_at > timezone.now()
    assert DeliveryAttempt.objects.get().error == "erro interno: RuntimeError"


def test_an_answer_with_a_nul_byte_is_recorded_without_it(receiver, subscription, monkeypatch):
    from outbound import delivery as sending

    monkeypatch.setattr(sending, "_post", lambda delivery: (500, "falhou\x00aqui", "", 3))
    emit()
    delivery_send(delivery_id=Delivery.objects.get().pk)
    assert DeliveryAttempt.objects.get().response == "falhouaqui"


def test_an_outcome_is_not_saved_over_a_delivery_taken_since(receiver, subscription, monkeypatch):
    """A redelivery from the admin, or another dispatcher's claim, while this attempt was in flight wins."""
    from outbound import delivery as sending

    def slow_then_claimed_again(delivery):
        Delivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now())  # someone took it meanwhile
        return 500, "", "", 3

    monkeypatch.setattr(sending, "_post", slow_then_claimed_again)
    emit()
    delivery_send(delivery_id=Delivery.objects.get().pk)
    assert Delivery.objects.get().next_attempt_at <= timezone.now()  # the other claim's, not this attempt's backoff


def test_the_dispatcher_leaves_a_retry_due_later_to_the_sweep_instead_of_restarting_itself(
    receiver, subscription, monkeypatch
):
    from handoff.services import dispatcher

    asked = []
    monkeypatch.setattr(dispatcher, "_task_enqueue", lambda: asked.append(1))
    emit()
    Delivery.objects.update(next_attempt_at=timezone.now() + timedelta(minutes=5))  # in backoff
    assert dispatcher.handoffs_dispatch(run=lambda **kwargs: None, seconds=5) == 0
    assert asked == []


def test_a_reassignment_from_the_admin_and_an_escalation_are_events(receiver, subscription, chatwoot):
    from handoff.services import handoff_reassign
    from tests.test_handoff_pipeline import qualified_lead, settle

    handoff = settle(qualified_lead())
    handoff_reassign(handoff=handoff, user="gerente", agent_id=3, team_id=None)
    assigned = [json.loads(e.body) for e in OutboundEvent.objects.filter(type="conversation.assigned")]
    assert [(e["data"]["by"], e["data"]["handoff"]["assignee"]["id"]) for e in assigned] == [("admin", 3)]


def test_a_handoff_whose_worker_vanished_is_a_failure_event_and_the_bot_may_speak(receiver, subscription):
    from handoff.models import Handoff
    from handoff.services import handoffs_sweep

    lead = LeadFactory(qualification_score=9)
    Handoff.objects.create(
        lead=lead,
        trigger=Handoff.Trigger.API,
        state=Handoff.State.IN_PROGRESS,
        attempts=99,
        lease_expires_at=timezone.now() - timedelta(minutes=1),
    )
    handoffs_sweep()
    types = list(OutboundEvent.objects.order_by("created_at").values_list("type", flat=True))
    assert types[-2:] == ["handoff.failed", "lead.returned_to_bot"]


def test_reopening_a_resolved_conversation_is_an_event_and_the_bot_is_silent_again(receiver, subscription, settings):
    from handoff.models import Handoff
    from leads.models import BotConversation
    from tests.test_webhooks import SECRET, deliver_and_process, fixture

    settings.CHATWOOT_WEBHOOK_SECRETS = [SECRET]

    lead = LeadFactory(phone="+5511987654321", status=Lead.Status.HANDED_OFF, chatwoot_conversation_id=128)
    BotConversation.objects.create(lead=lead, status=BotConversation.Status.HANDED_OFF)
    Handoff.objects.create(lead=lead, trigger="score", state=Handoff.State.DONE, contact_id=42, conversation_id=128)
    resolved = fixture("conversation_status_changed.resolved.json")
    deliver_and_process(resolved)
    deliver_and_process({**resolved, "status": "open", "updated_at": resolved["updated_at"] + 60})
    reopened = json.loads(OutboundEvent.objects.get(type="conversation.reopened").body)
    assert reopened["data"]["lead"]["bot_should_reply"] is False
