"""The Chatwoot webhook receiver and the event handlers, driven by the fixtures in tests/fixtures/chatwoot/.

Fixture scenario: contact 42 "Maria Silva", conversation (display id) 128, agent 7 "Ana Costa", team 2.
"""

import json
import math
import time
import uuid
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from django.utils import timezone
from hypothesis import assume, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from rest_framework.test import APIClient

from handoff.models import Handoff, WebhookDelivery
from handoff.selectors import bot_should_reply
from handoff.services import webhook_process, webhooks_requeue_stale
from handoff.signatures import SignatureError, signature_for, signature_verify
from leads.models import BotConversation, Lead, Message
from tests.factories import LeadFactory

pytestmark = pytest.mark.django_db

FIXTURES = Path(__file__).parent / "fixtures" / "chatwoot"
URL = "/api/v1/webhooks/chatwoot/"
SECRET = "Rk3pVbX9cT2mWqLs7YhN4dFz"


def fixture(name: str) -> dict:
    return json.loads((FIXTURES / name).read_text())


def wire(payload: dict) -> bytes:
    """Chatwoot's serialisation (F.3): compact, UTF-8, with & < > escaped."""
    text = json.dumps(payload, separators=(",", ":"), ensure_ascii=False)
    return text.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e").encode()


def deliver(
    body: bytes,
    *,
    secret: str = SECRET,
    timestamp: int | None = None,
    delivery: str | None = None,
    signature: str | None = None,
    extra: dict | None = None,
):
    stamp = str(timestamp if timestamp is not None else int(time.time()))
    headers = {
        "HTTP_X_CHATWOOT_DELIVERY": delivery or str(uuid.uuid4()),
        "HTTP_X_CHATWOOT_TIMESTAMP": stamp,
        "HTTP_X_CHATWOOT_SIGNATURE": signature or signature_for(secret, stamp, body),
        **(extra or {}),
    }
    return APIClient().post(URL, data=body, content_type="application/json", **headers)


def deliver_and_process(payload: dict, **kwargs) -> WebhookDelivery:
    response = deliver(wire(payload), **kwargs)
    assert response.status_code == 200, response.content
    delivery = WebhookDelivery.objects.order_by("-id").first()
    webhook_process(delivery_pk=delivery.pk)
    delivery.refresh_from_db()
    return delivery


@pytest.fixture(autouse=True)
def secrets(settings):
    settings.CHATWOOT_WEBHOOK_SECRETS = ["segredo-antigo", SECRET]
    settings.CHATWOOT_WEBHOOK_URL_TOKEN = ""


@pytest.fixture
def handed_off():
    """The lead behind the fixtures' conversation 128, handed off and waiting for a human."""
    lead = LeadFactory(
        phone="+5511987654321",
        name="Maria Silva",
        status=Lead.Status.HANDED_OFF,
        chatwoot_contact_id=42,
        chatwoot_conversation_id=128,
    )
    BotConversation.objects.create(lead=lead, status=BotConversation.Status.HANDED_OFF)
    return Handoff.objects.create(
        lead=lead,
        trigger="score",
        state=Handoff.State.DONE,
        contact_id=42,
        conversation_id=128,
        created_at=_at("2026-06-18T13:59:00Z"),
        finished_at=_at("2026-06-18T14:00:05Z"),
    )


def _at(text):
    from django.utils.dateparse import parse_datetime

    return parse_datetime(text)


# The receiver's security: one shared case (signature, secrets, timestamps, sizes, JSON).


class TestReceiverSecurity:
    def test_a_correct_signature_is_accepted(self):
        assert deliver(wire(fixture("message_created.incoming.json"))).json() == {"status": "accepted"}

    def test_a_rotated_secret_is_accepted_alongside_the_old_one(self):
        assert deliver(wire(fixture("contact_updated.json")), secret="segredo-antigo").status_code == 200

    def test_a_wrong_secret_is_refused_and_nothing_is_stored(self):
        assert deliver(wire(fixture("contact_updated.json")), secret="outro").status_code == 401
        assert not WebhookDelivery.objects.exists()

    def test_a_bad_signature_is_refused(self):
        assert deliver(b'{"event":"contact_updated"}', signature="sha256=" + "0" * 64).status_code == 401

    @pytest.mark.parametrize("skew", [-301, 301, -3600, 86400])
    def test_stale_and_future_timestamps_are_refused(self, skew):
        # Whole seconds rounded away from now: int() of a time late in its second made +301 only 300.0x ahead.
        now = math.ceil(time.time()) if skew > 0 else math.floor(time.time())
        assert deliver(wire(fixture("contact_updated.json")), timestamp=now + skew).status_code == 401

    @pytest.mark.parametrize("missing", ["HTTP_X_CHATWOOT_SIGNATURE", "HTTP_X_CHATWOOT_TIMESTAMP"])
    def test_missing_headers_are_refused(self, missing):
        body = wire(fixture("contact_updated.json"))
        stamp = str(int(time.time()))
        headers = {"HTTP_X_CHATWOOT_TIMESTAMP": stamp, "HTTP_X_CHATWOOT_SIGNATURE": signature_for(SECRET, stamp, body)}
        del headers[missing]
        assert APIClient().post(URL, data=body, content_type="application/json", **headers).status_code == 401

    def test_a_tampered_body_is_refused(self):
        body = wire(fixture("contact_updated.json"))
        stamp = str(int(time.time()))
        signature = signature_for(SECRET, stamp, body)
        tampered = body.replace(b"Maria", b"Marta")
        response = deliver(tampered, timestamp=int(stamp), signature=signature)
        assert response.status_code == 401

    def test_reserialised_json_does_not_verify(self):
        original = (FIXTURES / "signed" / "body.raw.json").read_bytes()
        reserialised = json.dumps(json.loads(original)).encode()
        assert json.loads(reserialised) == json.loads(original) and reserialised != original
        signed_example_verify(body=original)
        with pytest.raises(SignatureError):
            signed_example_verify(body=reserialised)

    def test_an_oversize_body_is_a_413(self, settings):
        settings.CHATWOOT_WEBHOOK_MAX_BYTES = 1000
        body = wire({"event": "contact_updated", "name": "x" * 2000})
        assert deliver(body).status_code == 413
        assert not WebhookDelivery.objects.exists()

    def test_malformed_json_is_a_400(self):
        assert deliver(b'{"event": "contact_upd').status_code == 400

    def test_json_without_an_event_is_a_400(self):
        assert deliver(b"[1, 2, 3]").status_code == 400
        assert deliver(b'{"id": 1}').status_code == 400

    def test_unknown_events_are_acknowledged_and_ignored(self):
        response = deliver(wire({"event": "conversation_typing_on", "conversation": {"id": 1}}))
        assert response.json() == {"status": "ignored"}
        assert WebhookDelivery.objects.get().state == WebhookDelivery.State.IGNORED

    def test_no_secret_configured_refuses_everything(self, settings):
        settings.CHATWOOT_WEBHOOK_SECRETS = []
        assert deliver(wire(fixture("contact_updated.json"))).status_code == 401

    def test_rejections_are_logged_and_counted_without_the_secret(self, caplog):
        from django.core.cache import cache

        from handoff.webhooks import REJECTED_COUNTER

        before = cache.get(REJECTED_COUNTER) or 0
        deliver(wire(fixture("contact_updated.json")), secret="outro")
        assert cache.get(REJECTED_COUNTER) == before + 1
        assert "Chatwoot webhook rejected" in caplog.text and SECRET not in caplog.text

    def test_old_chatwoot_may_use_a_url_token_only_when_enabled(self, settings):
        body = wire(fixture("contact_updated.json"))
        client = APIClient()
        assert client.post(f"{URL}?token=abc", data=body, content_type="application/json").status_code == 401
        settings.CHATWOOT_WEBHOOK_URL_TOKEN = "abc"
        assert client.post(f"{URL}?token=abc", data=body, content_type="application/json").status_code == 200
        assert client.post(f"{URL}?token=abd", data=body, content_type="application/json").status_code == 401

    def test_stored_headers_keep_no_credentials(self):
        deliver(wire(fixture("contact_updated.json")), extra={"HTTP_AUTHORIZATION": "Basic dXNlcjpwYXNz"})
        assert "Authorization" not in WebhookDelivery.objects.get().headers


def signed_example_verify(*, body: bytes | None = None, timestamp: str | None = None) -> None:
    """Verify a body (default: the real signed delivery's) against that delivery's signature and secret."""
    request = json.loads((FIXTURES / "signed" / "request.json").read_text())
    headers = request["headers"]
    timestamp = timestamp or headers["X-Chatwoot-Timestamp"]
    signature_verify(
        body=body if body is not None else (FIXTURES / "signed" / "body.raw.json").read_bytes(),
        timestamp=timestamp,
        signature=headers["X-Chatwoot-Signature"],
        secrets=[request["webhook_secret"]],
        tolerance=300,
        now=int(timestamp),
    )


def test_the_signed_example_verifies_byte_for_byte():
    signed_example_verify()


@given(position=st.integers(min_value=0, max_value=3242), flip=st.integers(min_value=1, max_value=255))
@hypothesis_settings(max_examples=200, deadline=None)
def test_any_single_byte_change_to_the_body_fails_verification(position, flip):
    body = bytearray((FIXTURES / "signed" / "body.raw.json").read_bytes())
    body[position] ^= flip
    with pytest.raises(SignatureError):
        signed_example_verify(body=bytes(body))


@given(position=st.integers(min_value=0, max_value=9), digit=st.sampled_from("0123456789"))
@hypothesis_settings(max_examples=100, deadline=None)
def test_any_change_to_the_timestamp_fails_verification(position, digit):
    stamp = json.loads((FIXTURES / "signed" / "request.json").read_text())["headers"]["X-Chatwoot-Timestamp"]
    changed = stamp[:position] + digit + stamp[position + 1 :]
    assume(changed != stamp)
    with pytest.raises(SignatureError):
        signed_example_verify(timestamp=changed)  # judged "now" at the changed time: only the signature can fail


# One short test per fixture.


def test_assignee_changed_records_the_agent_and_team(handed_off):
    deliver_and_process(fixture("conversation_updated.assignee_changed.json"))
    handed_off.refresh_from_db()
    assert (handed_off.assignee_id, handed_off.assignee_name, handed_off.team_name) == (7, "Ana Costa", "Inside Sales")


def test_an_assignee_change_while_the_handoff_is_in_progress_leaves_the_assignment_to_nexa(handed_off):
    Handoff.objects.filter(pk=handed_off.pk).update(state=Handoff.State.IN_PROGRESS, finished_at=None)
    deliver_and_process(fixture("conversation_updated.assignee_changed.json"))
    handed_off.refresh_from_db()
    assert (handed_off.assignee_id, handed_off.team_id) == (None, None)


def test_an_incoming_message_is_mirrored_as_the_leads(handed_off):
    deliver_and_process(fixture("message_created.incoming.json"))
    message = Message.objects.get(external_id="chatwoot:2003")
    assert message.sender == Message.Sender.LEAD and message.conversation.lead_id == handed_off.lead_id


def test_an_agents_public_reply_is_mirrored_and_is_the_first_reply(handed_off):
    deliver_and_process(fixture("message_created.outgoing_agent.json"))
    handed_off.refresh_from_db()
    reply = Message.objects.get(external_id="chatwoot:2004")
    assert (reply.sender, reply.agent_name, reply.handoff_id, reply.chatwoot_message_id) == (
        Message.Sender.AGENT,
        "Ana Costa",
        handed_off.pk,
        2004,
    )
    assert handed_off.first_reply_at.isoformat() == "2026-06-18T14:07:02.118000+00:00"
    assert handed_off.first_reply_agent_name == "Ana Costa"


def test_a_private_note_is_not_mirrored(handed_off):
    delivery = deliver_and_process(fixture("message_created.private_note.json"))
    assert delivery.state == WebhookDelivery.State.IGNORED and not Message.objects.exists()
    assert delivery.result == "nota privada: não vai para a transcrição"


def test_each_delivery_with_something_for_nexa_is_queued_once_and_notes_are_only_stored(handed_off, monkeypatch):
    from handoff.services import webhooks

    queued = []
    monkeypatch.setattr(webhooks, "async_task", lambda task, delivery_pk, **kwargs: queued.append(delivery_pk))
    assert deliver(wire(fixture("message_created.incoming.json"))).json() == {"status": "accepted"}
    assert deliver(wire(fixture("message_created.private_note.json"))).json() == {"status": "ignored"}
    incoming, note = WebhookDelivery.objects.order_by("pk")
    assert queued == [incoming.pk] and incoming.state == WebhookDelivery.State.RECEIVED
    assert (note.state, note.attempts, note.result) == (
        WebhookDelivery.State.IGNORED,
        0,  # told apart on arrival: no task, no processing
        "nota privada: não vai para a transcrição",
    )


@pytest.mark.parametrize(
    "name", ["conversation_status_changed.resolved.json", "conversation_updated.status_resolved.json"]
)
def test_resolved_converts_the_lead_and_the_bot_may_reply_again(handed_off, name, api):
    deliver_and_process(fixture(name))
    lead = Lead.objects.get(pk=handed_off.lead_id)
    assert lead.status == Lead.Status.CONVERTIDO and lead.closed_at is not None
    assert lead.conversations.get().status == BotConversation.Status.CLOSED
    assert api.get(f"/api/v1/leads/{lead.pk}/").json()["bot_should_reply"] is True


def test_contact_updated_syncs_the_name(handed_off):
    deliver_and_process(fixture("contact_updated.json"))
    assert Lead.objects.get(pk=handed_off.lead_id).name == "Maria S. Silva"


def test_conversation_created_for_a_known_conversation_changes_nothing(handed_off):
    delivery = deliver_and_process(fixture("conversation_created.json"))
    assert delivery.state == WebhookDelivery.State.PROCESSED and Handoff.objects.count() == 1


def test_a_conversation_nexa_created_is_told_apart_on_arrival(handed_off, monkeypatch):
    from handoff.services import webhooks

    queued = []
    monkeypatch.setattr(webhooks, "async_task", lambda task, delivery_pk, **kwargs: queued.append(delivery_pk))
    payload = fixture("conversation_created.json")
    payload["custom_attributes"] = {"handoff_id": str(handed_off.pk)}  # as Nexa creates its conversations (C.1)
    assert deliver(wire(payload)).json() == {"status": "ignored"}
    delivery = WebhookDelivery.objects.get()
    assert (delivery.state, delivery.result, queued) == (
        WebhookDelivery.State.IGNORED,
        "conversa criada pelo próprio Nexa",
        [],
    )
    payload["custom_attributes"] = {"handoff_id": "00000000-0000-0000-0000-000000000000"}  # not one of Nexa's
    payload["id"] += 1
    assert deliver(wire(payload)).json() == {"status": "accepted"} and len(queued) == 1
    for odd in ({"event": "conversation_created"}, {"event": "conversation_created", "custom_attributes": "x"}):
        assert deliver(wire(odd)).json() == {"status": "accepted"}  # stored all the same; its task records why not
    assert len(queued) == 3


# Variants.


def test_a_lead_who_comes_back_is_queued_for_a_handoff_into_that_inbox(handed_off):
    Lead.objects.filter(pk=handed_off.lead_id).update(status=Lead.Status.CONVERTIDO)
    payload = {**fixture("conversation_created.json"), "id": 200}
    deliver_and_process(payload)
    lead = Lead.objects.get(pk=handed_off.lead_id)
    returned = lead.handoffs.get(trigger="returned")
    assert (returned.state, returned.inbox_id) == (Handoff.State.QUEUED, payload["inbox_id"])
    assert not bot_should_reply(lead)  # a human is on the way; the worker assigns and writes the note


def test_a_returning_leads_message_applied_before_its_conversation_is_known_is_run_again(handed_off, monkeypatch):
    """Webhooks come in any order (F.2): the lead's first message may be applied before conversation_created."""
    from handoff.services import webhooks

    replayed = []
    monkeypatch.setattr(webhooks, "webhook_enqueue", replayed.append)
    Lead.objects.filter(pk=handed_off.lead_id).update(status=Lead.Status.CONVERTIDO)
    incoming = fixture("message_created.incoming.json")
    incoming = {**incoming, "id": 9001, "conversation": {**incoming["conversation"], "id": 200}}
    early = deliver_and_process(incoming)
    assert early.state == WebhookDelivery.State.IGNORED
    deliver_and_process({**fixture("conversation_created.json"), "id": 200})
    assert replayed[-1] == early.pk  # after the conversation_created delivery itself, run again
    webhook_process(delivery_pk=early.pk)  # as the worker runs it
    assert Message.objects.filter(external_id="chatwoot:9001", conversation__lead_id=handed_off.lead_id).exists()


def test_with_the_bot_policy_a_lead_who_comes_back_stays_with_atlas(handed_off, settings):
    settings.HANDOFF_RETURNING_POLICY = "bot"
    Lead.objects.filter(pk=handed_off.lead_id).update(status=Lead.Status.CONVERTIDO)
    deliver_and_process({**fixture("conversation_created.json"), "id": 200})
    lead = Lead.objects.get(pk=handed_off.lead_id)
    assert not lead.handoffs.filter(trigger="returned").exists()
    assert bot_should_reply(lead) and lead.chatwoot_conversation_id == 200


def test_a_lost_label_makes_the_outcome_perdido(handed_off):
    payload = {**fixture("conversation_status_changed.resolved.json"), "labels": ["Perdido"]}
    deliver_and_process(payload)
    assert Lead.objects.get(pk=handed_off.lead_id).status == Lead.Status.PERDIDO


def test_the_deal_value_and_loss_reason_the_agent_records_are_kept_with_the_outcome(handed_off, api):
    resolved = fixture("conversation_status_changed.resolved.json")
    attributes = {**resolved["custom_attributes"], "valor_negocio": "R$ 12.500,00", "motivo_perda": ""}
    deliver_and_process({**resolved, "custom_attributes": attributes})
    handed_off.refresh_from_db()
    assert (handed_off.outcome, handed_off.deal_value, handed_off.deal_value_text) == (
        "convertido",
        Decimal("12500.00"),
        "R$ 12.500,00",
    )
    summary = api.get(f"/api/v1/leads/{handed_off.lead_id}/").json()["handoff"]
    assert (summary["deal_value"], summary["loss_reason"]) == ("12500.00", None)


def test_a_lost_lead_keeps_its_reason_and_a_value_that_cannot_be_read_is_kept_as_typed(handed_off):
    resolved = fixture("conversation_status_changed.resolved.json")
    attributes = {"valor_negocio": "a combinar", "motivo_perda": "Achou caro; fechou com concorrente"}
    deliver_and_process({**resolved, "labels": ["perdido"], "custom_attributes": attributes})
    handed_off.refresh_from_db()
    assert (handed_off.outcome, handed_off.loss_reason) == ("perdido", "Achou caro; fechou com concorrente")
    assert handed_off.deal_value is None and handed_off.deal_value_text == "a combinar"


def test_reopening_brings_the_lead_back_to_handed_off(handed_off):
    resolved = fixture("conversation_status_changed.resolved.json")
    deliver_and_process(resolved)
    reopened = {**resolved, "status": "open", "updated_at": resolved["updated_at"] + 60}
    deliver_and_process(reopened)
    assert Lead.objects.get(pk=handed_off.lead_id).status == Lead.Status.HANDED_OFF


def test_an_older_state_arriving_late_never_moves_the_lead_back(handed_off):
    resolved = fixture("conversation_status_changed.resolved.json")
    deliver_and_process(resolved)
    older_open = {**resolved, "status": "open", "updated_at": resolved["updated_at"] - 600}
    delivery = deliver_and_process(older_open)
    assert "antigo" in delivery.result
    assert Lead.objects.get(pk=handed_off.lead_id).status == Lead.Status.CONVERTIDO


def test_a_conversation_nexa_does_not_know_is_stored_and_ignored():
    lead = LeadFactory(status=Lead.Status.HANDED_OFF)
    delivery = deliver_and_process(fixture("conversation_status_changed.resolved.json"))
    assert delivery.state == WebhookDelivery.State.IGNORED and "desconhecida" in delivery.result
    assert Lead.objects.get(pk=lead.pk).status == Lead.Status.HANDED_OFF


def test_a_repeated_delivery_is_stored_once():
    body = wire(fixture("message_created.incoming.json"))
    first = deliver(body, delivery="d-1")
    second = deliver(body, delivery="d-1")
    assert (first.json(), second.json()) == ({"status": "accepted"}, {"status": "duplicate"})
    assert WebhookDelivery.objects.count() == 1


def test_the_same_message_under_two_delivery_ids_is_stored_once():
    body = wire(fixture("message_created.incoming.json"))
    deliver(body, delivery="d-1")
    assert deliver(body, delivery="d-2").json() == {"status": "duplicate"}


def test_reprocessing_a_delivery_changes_nothing_twice(handed_off):
    delivery = deliver_and_process(fixture("message_created.outgoing_agent.json"))
    webhook_process(delivery_pk=delivery.pk)
    webhook_process(delivery_pk=delivery.pk)
    assert Message.objects.filter(external_id="chatwoot:2004").count() == 1
    assert handed_off.events.filter(kind="first_reply").count() == 1


def test_a_failing_handler_keeps_the_delivery_with_its_traceback(handed_off, monkeypatch):
    from handoff import events

    def broken(payload):
        raise RuntimeError("banco fora do ar")

    monkeypatch.setitem(events.HANDLERS, "contact_updated", broken)
    delivery = deliver_and_process(fixture("contact_updated.json"))
    assert delivery.state == WebhookDelivery.State.FAILED
    assert "banco fora do ar" in delivery.error and "Traceback" in delivery.traceback


def test_the_bot_stays_silent_while_a_human_owns_the_lead(handed_off, api):
    body = api.get("/api/v1/leads/", {"phone": "(11) 98765-4321"}).json()["results"][0]
    assert body["bot_should_reply"] is False


def test_the_bot_stays_silent_while_a_handoff_is_queued_and_speaks_again_once_cancelled(api, admin_user):
    from handoff.services import handoff_cancel, handoff_create

    lead = LeadFactory()
    handoff = handoff_create(lead=lead, trigger="admin")
    assert api.get(f"/api/v1/leads/{lead.pk}/").json()["bot_should_reply"] is False
    handoff_cancel(handoff=handoff, user=admin_user)
    assert api.get(f"/api/v1/leads/{lead.pk}/").json()["bot_should_reply"] is True


def test_the_phone_is_never_changed_silently(handed_off):
    payload = {**fixture("contact_updated.json"), "phone_number": "+5521999990000"}
    delivery = deliver_and_process(payload)
    assert Lead.objects.get(pk=handed_off.lead_id).phone == "+5511987654321"
    assert "telefone diferente" in delivery.result
    assert handed_off.events.filter(kind="phone_mismatch").exists()


def test_the_admin_can_reprocess_a_failed_delivery(admin_client, handed_off):
    delivery = WebhookDelivery.objects.create(
        delivery_id="x",
        event="contact_updated",
        body=json.dumps(fixture("contact_updated.json")),
        state=WebhookDelivery.State.FAILED,
    )
    admin_client.post(
        "/admin/handoff/webhookdelivery/", {"action": "reprocess", "_selected_action": [delivery.pk], "post": "yes"}
    )
    delivery.refresh_from_db()
    assert delivery.state == WebhookDelivery.State.PROCESSED


@pytest.mark.django_db(transaction=True)
def test_ten_concurrent_replays_have_one_effect(postgres_only, handed_off):
    import threading

    from django.db import connection

    body = wire(fixture("message_created.outgoing_agent.json"))
    stamp = int(time.time())
    statuses = []

    def replay():
        try:
            statuses.append(deliver(body, timestamp=stamp, delivery="same-delivery").json()["status"])
        finally:
            connection.close()

    threads = [threading.Thread(target=replay) for _ in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == ["accepted"] + ["duplicate"] * 9
    for delivery in WebhookDelivery.objects.all():
        webhook_process(delivery_pk=delivery.pk)
    assert Message.objects.filter(external_id="chatwoot:2004").count() == 1
    assert Handoff.objects.get(pk=handed_off.pk).events.filter(kind="first_reply").count() == 1


@given(replays=st.integers(min_value=1, max_value=10))
@hypothesis_settings(max_examples=10, deadline=None)
def test_n_replays_of_a_delivery_have_exactly_one_effect(replays):
    lead = Lead.objects.filter(chatwoot_conversation_id=128).first() or LeadFactory(
        status=Lead.Status.HANDED_OFF, chatwoot_contact_id=42, chatwoot_conversation_id=128
    )
    handoff = Handoff.objects.filter(conversation_id=128).first() or Handoff.objects.create(
        lead=lead,
        trigger="score",
        state=Handoff.State.DONE,
        contact_id=42,
        conversation_id=128,
        created_at=_at("2026-06-18T13:59:00Z"),  # before the fixture's agent reply: it is the first human reply
    )
    payload = {**fixture("message_created.outgoing_agent.json"), "id": 700_000 + replays}
    body, delivery_id = wire(payload), str(uuid.uuid4())
    for _ in range(replays):
        deliver(body, delivery=delivery_id)
    for delivery in WebhookDelivery.objects.filter(message_id=payload["id"]):
        webhook_process(delivery_pk=delivery.pk)
    assert WebhookDelivery.objects.filter(delivery_id=delivery_id).count() == 1
    assert Message.objects.filter(external_id=f"chatwoot:{payload['id']}").count() == 1
    assert handoff.events.filter(kind="first_reply").count() == 1


# Deliveries whose worker died (django-q runs a task once) are enqueued again by a periodic job.


@pytest.fixture
def enqueued(monkeypatch) -> list[int]:
    from handoff.services import webhooks

    sent = []
    monkeypatch.setattr(webhooks, "async_task", lambda task, delivery_pk, **kwargs: sent.append(delivery_pk))
    return sent


def stored(minutes_ago: int, state=WebhookDelivery.State.RECEIVED, attempts=0) -> WebhookDelivery:
    return WebhookDelivery.objects.create(
        delivery_id=str(uuid.uuid4()),
        event="contact_updated",
        body=json.dumps(fixture("contact_updated.json")),
        received_at=timezone.now() - timedelta(minutes=minutes_ago),
        state=state,
        attempts=attempts,
    )


def test_only_deliveries_left_received_for_a_while_are_enqueued_again(enqueued):
    abandoned = stored(minutes_ago=10)
    stored(minutes_ago=1)  # probably still in the queue
    for state in ("processed", "ignored", "failed"):
        stored(minutes_ago=10, state=state)
    assert webhooks_requeue_stale() == 1
    assert enqueued == [abandoned.pk]


def test_the_requeue_takes_the_oldest_deliveries_up_to_the_batch_per_run(enqueued, settings):
    settings.WEBHOOK_REQUEUE_BATCH = 2
    newest, oldest, middle = stored(minutes_ago=10), stored(minutes_ago=30), stored(minutes_ago=20)
    assert webhooks_requeue_stale() == 2
    assert enqueued == [oldest.pk, middle.pk]
    assert WebhookDelivery.objects.get(pk=newest.pk).attempts == 0


def test_a_delivery_whose_worker_keeps_dying_is_failed_for_reprocessing(enqueued, settings):
    settings.WEBHOOK_MAX_ATTEMPTS = 3
    poison = stored(minutes_ago=30, attempts=3)
    assert webhooks_requeue_stale() == 0 and enqueued == []
    poison.refresh_from_db()
    assert poison.state == WebhookDelivery.State.FAILED and "Reprocessar" in poison.error


def test_a_delivery_enqueued_again_is_processed_once_the_worker_runs_it(handed_off, monkeypatch):
    from handoff.services import webhooks

    delivery = stored(minutes_ago=10)
    monkeypatch.setattr(
        webhooks, "async_task", lambda task, delivery_pk, **kwargs: webhook_process(delivery_pk=delivery_pk)
    )
    webhooks_requeue_stale()
    delivery.refresh_from_db()
    assert (delivery.state, delivery.attempts) == (WebhookDelivery.State.PROCESSED, 2)
    assert Lead.objects.get(pk=handed_off.lead_id).name == "Maria S. Silva"


def test_the_requeue_runs_every_five_minutes():
    from django_q.models import Schedule

    schedule = Schedule.objects.get(name="webhooks_requeue_stale")
    assert (schedule.func, schedule.schedule_type, schedule.minutes) == ("handoff.tasks.webhooks_requeue_stale", "I", 5)
