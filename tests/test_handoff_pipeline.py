"""The handoff pipeline against the Chatwoot sandbox: exactly once, whatever fails and wherever."""

import json
from datetime import timedelta

import pytest
import requests
from django.utils import timezone

from handoff import throttle
from handoff.models import ChatwootCall, ChatwootThrottle, Handoff, WebhookDelivery
from handoff.services import handoff_process, runner, webhook_process
from handoff.services.chatwoot import chatwoot_for
from handoff.services.runner import retry_delay
from leads import services as lead_services
from leads.models import BotConversation, Lead
from leads.phones import phone_parse
from tests.chatwoot_faults import Rule
from tests.workers import assert_exactly_once

pytestmark = pytest.mark.django_db

HEADERS = {"api_access_token": "sandbox-token"}


def qualified_lead(phone="(11) 98765-4321", score=9, history=True) -> Lead:
    lead, _ = lead_services.lead_upsert(
        phone=phone_parse(phone),
        data={"name": "Mariana Albuquerque", "email": "mariana@exemplo.com.br", "interest": "Energia solar"},
    )
    if history:
        lead_services.messages_add(
            lead=lead,
            messages=[
                lead_services.NewMessage(sender="lead", content="Oi, quero energia solar para a loja"),
                lead_services.NewMessage(sender="bot", content="Olá! Qual o valor da conta de luz?"),
            ],
        )
    lead, _ = lead_services.lead_upsert(phone=phone_parse(phone), data={"qualification_score": score})
    return lead


def settle(lead: Lead, rounds: int = 12) -> Handoff:
    """Run attempts as the worker would, letting backoff time pass between them."""
    handoff = lead.handoffs.get()
    for _ in range(rounds):
        Handoff.objects.filter(pk=handoff.pk, state="queued").update(next_attempt_at=timezone.now())
        ChatwootThrottle.objects.update(paused_until=None)
        handoff_process(handoff_id=handoff.pk)
        handoff.refresh_from_db()
        if handoff.state != Handoff.State.QUEUED:
            break
    return handoff


def chatwoot_rows(sandbox) -> dict:
    return sandbox.state_dump()


def private_notes(sandbox) -> list[dict]:
    return [m for m in chatwoot_rows(sandbox)["messages"] if m["private"]]


def test_a_qualified_lead_is_handed_off_once_with_everything(chatwoot):
    lead = qualified_lead()
    handoff = settle(lead)
    assert handoff.state == Handoff.State.DONE
    assert_exactly_once(chatwoot)
    rows = chatwoot_rows(chatwoot)
    contact, conversation = rows["contacts"][0], rows["conversations"][0]
    assert contact["phone_number"] == "+5511987654321"
    assert contact["custom_attributes"]["source"] == "atlas_nexa"
    assert conversation["custom_attributes"]["handoff_id"] == str(handoff.pk)
    assert conversation["status"] == "open"
    assert conversation["labels"] == ["lead-qualificado", "atlas-nexa"]
    assert conversation["assignee_id"] == handoff.assignee_id is not None
    note = private_notes(chatwoot)[0]["content"]
    assert "Oi, quero energia solar para a loja" in note and "**Nota:** 9/10" in note
    lead.refresh_from_db()
    assert lead.status == Lead.Status.HANDED_OFF
    assert (lead.chatwoot_contact_id, lead.chatwoot_conversation_id) == (contact["id"], conversation["display_id"])
    bot = BotConversation.objects.get(lead=lead)
    assert bot.status == BotConversation.Status.HANDED_OFF and bot.handoff_at is not None


def handoff_paths(handoff) -> list[str]:
    return [f"{c.method} {c.path}" for c in ChatwootCall.objects.filter(handoff=handoff).order_by("id")]


def test_a_new_lead_takes_four_calls_the_conversation_created_already_assigned(chatwoot):
    first = settle(qualified_lead())  # the inbox's members are read once, then cached for a minute
    assert handoff_paths(first) == [
        "POST /contacts/filter",
        "POST /contacts",
        "GET /inbox_members/1",
        "POST /conversations",
        "POST /conversations/1/labels",
    ]
    lead = qualified_lead("(21) 99812-3456")
    Lead.objects.filter(pk=lead.pk).update(email="joao@exemplo.com.br")  # another person, another e-mail
    second = settle(lead)
    assert handoff_paths(second) == [
        "POST /contacts/filter",
        "POST /contacts",
        "POST /conversations",
        f"POST /conversations/{second.conversation_id}/labels",
    ]
    conversation = chatwoot_rows(chatwoot)["conversations"][1]
    assert conversation["assignee_id"] == second.assignee_id and second.assignment_done


def test_an_existing_contact_without_an_open_conversation_takes_five_calls(chatwoot):
    settle(qualified_lead("(21) 99812-3456"))  # warms the agents' cache
    url = f"{chatwoot.base_url}/api/v1/accounts/1/contacts"
    requests.post(url, json={"name": "Mariana", "phone_number": "+5511987654321"}, headers=HEADERS, timeout=5)
    handoff = settle(qualified_lead())
    assert handoff_paths(handoff) == [
        "POST /contacts/filter",
        f"PATCH /contacts/{handoff.contact_id}",
        f"GET /contacts/{handoff.contact_id}/conversations",
        "POST /conversations",
        f"POST /conversations/{handoff.conversation_id}/labels",
    ]
    assert_exactly_once(chatwoot, leads=2)


def test_an_existing_contact_found_by_its_twin_phone_is_adopted_and_merged(chatwoot):
    url = f"{chatwoot.base_url}/api/v1/accounts/1/contacts"
    body = {"name": "Mariana", "phone_number": "+551187654321", "custom_attributes": {"cpf_verificado": True}}
    existing = requests.post(url, json=body, headers=HEADERS, timeout=5).json()["payload"]["contact"]
    handoff = settle(qualified_lead("(11) 98765-4321"))
    rows = chatwoot_rows(chatwoot)
    assert [c["id"] for c in rows["contacts"]] == [existing["id"]] == [handoff.contact_id]
    attributes = rows["contacts"][0]["custom_attributes"]
    assert attributes["cpf_verificado"] is True and attributes["source"] == "atlas_nexa"
    assert len(rows["contact_inboxes"]) == 1  # created once, with our source_id


def test_another_persons_email_never_merges_two_phones(chatwoot):
    url = f"{chatwoot.base_url}/api/v1/accounts/1/contacts"
    other = {"name": "Irmã", "phone_number": "+5521998887766", "email": "mariana@exemplo.com.br"}
    requests.post(url, json=other, headers=HEADERS, timeout=5)
    handoff = settle(qualified_lead())
    rows = chatwoot_rows(chatwoot)
    assert len(rows["contacts"]) == 2
    ours = next(c for c in rows["contacts"] if c["id"] == handoff.contact_id)
    assert ours["phone_number"] == "+5511987654321" and not ours["email"]
    assert len(rows["conversations"]) == 1


def test_an_open_conversation_is_reused_and_keeps_its_agent_and_labels(chatwoot):
    base = f"{chatwoot.base_url}/api/v1/accounts/1"
    contact = requests.post(
        f"{base}/contacts", json={"phone_number": "+5511987654321", "inbox_id": 1}, headers=HEADERS, timeout=5
    ).json()["payload"]
    conversation = requests.post(
        f"{base}/conversations",
        json={
            "inbox_id": 1,
            "contact_id": contact["contact"]["id"],
            "source_id": contact["contact_inbox"]["source_id"],
            "status": "pending",
            "assignee_id": 3,
        },
        headers=HEADERS,
        timeout=5,
    ).json()
    requests.post(
        f"{base}/conversations/{conversation['id']}/labels", json={"labels": ["vip"]}, headers=HEADERS, timeout=5
    )
    handoff = settle(qualified_lead())
    rows = chatwoot_rows(chatwoot)
    assert len(rows["conversations"]) == 1
    reused = rows["conversations"][0]
    assert reused["status"] == "open"
    assert reused["labels"] == ["vip", "lead-qualificado", "atlas-nexa"]
    assert reused["assignee_id"] == 3 == handoff.assignee_id
    assert handoff.conversation_reused and handoff.routing["strategy"] == "kept"
    assert len(private_notes(chatwoot)) == 1


def test_a_contact_created_by_someone_else_meanwhile_is_adopted_after_the_422(chatwoot, faults):
    def competitor_creates_it():
        requests.post(
            f"{chatwoot.base_url}/api/v1/accounts/1/contacts",
            json={"name": "Outro sistema", "phone_number": "+5511987654321"},
            headers=HEADERS,
            timeout=5,
        )

    faults.add(Rule("POST", r"/contacts$", "before", before=competitor_creates_it))
    handoff = settle(qualified_lead())
    assert handoff.state == Handoff.State.DONE
    assert_exactly_once(chatwoot)
    assert handoff.events.filter(kind="contact", message__contains="já existia").exists()


@pytest.mark.parametrize(
    "path",
    [r"/contacts$", r"/conversations$", r"/messages$"],
    ids=["contact-create", "conversation-create", "note"],
)
def test_a_write_whose_answer_is_lost_is_never_repeated(chatwoot, faults, settings, path):
    settings.HANDOFF_NOTE_MAX_CHARS = 400  # two note parts, so the second goes through POST /messages
    faults.add(Rule("POST", path, "timeout_after_success"))
    handoff = settle(qualified_lead())
    assert faults.fired, "the fault must have happened"
    assert handoff.state == Handoff.State.DONE and handoff.attempts == 1  # the step ran again in its attempt
    assert_exactly_once(chatwoot)
    assert len(private_notes(chatwoot)) == len(handoff.note_message_ids) >= 2


def test_the_contact_its_own_lost_create_made_is_not_written_again(chatwoot, faults):
    """Found after this attempt's create lost its answer, it carries the attributes already: no update is sent."""
    faults.add(Rule("POST", r"/contacts$", "timeout_after_success"))
    handoff = settle(qualified_lead())
    assert faults.fired and handoff.state == Handoff.State.DONE and handoff.attempts == 1
    assert not ChatwootCall.objects.filter(method="PATCH").exists()
    [contact] = chatwoot_rows(chatwoot)["contacts"]
    assert contact["custom_attributes"]["atlas_lead_id"] == str(handoff.lead_id)
    assert contact["custom_attributes"]["last_bot_message"] == "Olá! Qual o valor da conta de luz?"
    assert_exactly_once(chatwoot)


def test_the_conversation_its_own_lost_create_made_is_not_asked_for_labels(chatwoot, faults, settings):
    """Found marked right after this attempt's create lost its answer: seconds old, it has no label to merge."""
    faults.add(Rule("POST", r"/conversations$", "timeout_after_success"))
    handoff = settle(qualified_lead())
    assert faults.fired and handoff.state == Handoff.State.DONE and handoff.attempts == 1
    assert not ChatwootCall.objects.filter(method="GET", path__endswith="/labels").exists()
    assert chatwoot_rows(chatwoot)["conversations"][0]["labels"] == settings.HANDOFF_LABELS
    assert_exactly_once(chatwoot)


STEP_CALLS = [
    ("POST", r"/contacts/filter"),
    ("POST", r"/contacts$"),
    ("GET", r"/inbox_members/"),
    ("POST", r"/conversations$"),
    ("POST", r"/labels$"),
]
# A lead whose contact has an open, unassigned conversation: the calls of the reuse path.
REUSE_CALLS = [
    ("PATCH", r"/contacts/\d+$"),
    ("GET", r"/contacts/\d+/conversations$"),
    ("POST", r"/toggle_status$"),
    ("POST", r"/custom_attributes$"),
    ("POST", r"/messages$"),
    ("GET", r"/labels$"),
    ("POST", r"/labels$"),
    ("POST", r"/assignments$"),
]


@pytest.mark.parametrize(("method", "path"), STEP_CALLS, ids=[p for _, p in STEP_CALLS])
@pytest.mark.parametrize("kind", ["status:500", "status:429", "reset_before", "timeout_after_success"])
def test_the_handoff_resumes_after_any_failure_at_any_step(chatwoot, faults, method, path, kind):
    faults.add(Rule(method, path, kind))
    handoff = settle(qualified_lead())
    assert faults.fired
    assert handoff.state == Handoff.State.DONE
    assert_exactly_once(chatwoot)
    assert handoff.last_error == ""


@pytest.mark.parametrize(("method", "path"), REUSE_CALLS, ids=[p for _, p in REUSE_CALLS])
@pytest.mark.parametrize("kind", ["status:500", "timeout_after_success"])
def test_a_reused_conversation_handoff_resumes_after_any_failure_at_any_call(chatwoot, faults, method, path, kind):
    base = f"{chatwoot.base_url}/api/v1/accounts/1"
    body = {"phone_number": "+5511987654321", "inbox_id": 1}
    contact = requests.post(f"{base}/contacts", json=body, headers=HEADERS, timeout=5).json()["payload"]
    opened = {"inbox_id": 1, "contact_id": contact["contact"]["id"], "status": "pending"}
    requests.post(
        f"{base}/conversations",
        json={**opened, "source_id": contact["contact_inbox"]["source_id"]},
        headers=HEADERS,
        timeout=5,
    )
    faults.add(Rule(method, path, kind))
    handoff = settle(qualified_lead())
    assert faults.fired and handoff.state == Handoff.State.DONE and handoff.conversation_reused
    assert_exactly_once(chatwoot)
    (conversation,) = chatwoot_rows(chatwoot)["conversations"]
    assert conversation["status"] == "open" and conversation["assignee_id"] == handoff.assignee_id


def test_a_429_pauses_every_worker_and_the_attempt_waits_a_brief_pause_out(chatwoot, faults, settings):
    faults.add(Rule("POST", r"/contacts/filter", "status:429"))
    handoff = qualified_lead().handoffs.get()
    assert handoff_process(handoff_id=handoff.pk) == "done"
    rejected, probe = ChatwootCall.objects.filter(path__endswith="/contacts/filter").order_by("id")
    assert rejected.status == 429 and probe.status == 200
    # Everyone paused (CHATWOOT_PAUSE_ON_429_SECONDS, or less when the clock minute ended sooner); the attempt
    # waited it out and its step's call, run again, was the probe.
    paused_until = ChatwootThrottle.objects.get().paused_until
    assert paused_until <= rejected.created_at + timedelta(seconds=settings.CHATWOOT_PAUSE_ON_429_SECONDS)
    assert probe.created_at >= paused_until
    handoff.refresh_from_db()
    assert (handoff.attempts, handoff.last_error) == (1, "")  # waiting is not a failed attempt
    assert ChatwootThrottle.objects.get().pause_seconds == 0  # the probe got through: everyone resumed


def test_a_pause_too_long_to_wait_gives_the_attempt_back_without_spending_it(chatwoot):
    # Everyone paused for longer than a worker waits in place (after several 429s, say).
    paused_until = timezone.now() + timedelta(seconds=throttle.SHORT_PAUSE_SECONDS + 20)
    ChatwootThrottle.objects.update_or_create(pk=1, defaults={"paused_until": paused_until, "pause_seconds": 16})
    first = qualified_lead()
    assert handoff_process(handoff_id=first.handoffs.get().pk) == "deferred"
    # The attempt is given back, not spent: due when the pause ends, no error recorded, nothing sent.
    deferred = first.handoffs.get()
    assert (deferred.state, deferred.attempts, deferred.last_error) == (Handoff.State.QUEUED, 0, "")
    assert deferred.next_attempt_at == paused_until
    assert deferred.events.filter(kind="deferred").count() == 1 and not deferred.events.filter(kind="retry").exists()
    assert not ChatwootCall.objects.exists()
    with pytest.raises(throttle.ChatwootDeferred):  # every other caller waits too, without calling
        chatwoot_for(step="reconcile").conversation_get(1)


def test_a_wrong_token_fails_at_once_with_the_fix(chatwoot, settings):
    settings.CHATWOOT_API_TOKEN = "wrong"
    handoff = settle(qualified_lead())
    assert handoff.state == Handoff.State.FAILED and handoff.attempts == 1
    assert "check_chatwoot" in handoff.last_error and "wrong" not in handoff.last_error


def test_missing_configuration_fails_without_calling_anything(db, settings):
    settings.CHATWOOT_BASE_URL = ""
    handoff = settle(qualified_lead())
    assert handoff.state == Handoff.State.FAILED
    assert "CHATWOOT_BASE_URL" in handoff.last_error
    assert ChatwootCall.objects.count() == 0


def test_an_unreachable_chatwoot_is_retried_then_dead_lettered(db, settings):
    settings.CHATWOOT_BASE_URL = "http://127.0.0.1:9"  # nothing listens there
    settings.CHATWOOT_ACCOUNT_ID, settings.CHATWOOT_API_TOKEN, settings.CHATWOOT_INBOX_ID = 1, "t", 1
    settings.HANDOFF_MAX_ATTEMPTS, settings.HANDOFF_STEP_RETRY_SECONDS = 3, 0.01
    handoff = settle(qualified_lead())
    assert handoff.state == Handoff.State.FAILED and handoff.attempts == 3
    assert "3 tentativas" in handoff.last_error
    # One call per attempt and its few in-attempt retries: no storm.
    assert ChatwootCall.objects.count() == 3 * (settings.HANDOFF_STEP_RETRIES + 1)


def test_a_transient_failure_queues_the_next_attempt_after_the_backoff_of_its_attempt(
    chatwoot, faults, settings, monkeypatch
):
    settings.HANDOFF_RETRY_BASE_SECONDS, settings.HANDOFF_RETRY_CAP_SECONDS = 10, 300
    monkeypatch.setattr(runner.random, "uniform", lambda low, high: high)  # the jitter's top: the ceiling itself
    faults.add(Rule("POST", r"/contacts/filter", "status:503", times=settings.HANDOFF_STEP_RETRIES + 1))
    handoff = qualified_lead().handoffs.get()
    Handoff.objects.filter(pk=handoff.pk).update(attempts=2)  # this run is the third attempt: a 40 s ceiling
    before = timezone.now()
    handoff_process(handoff_id=handoff.pk)
    handoff.refresh_from_db()
    assert (handoff.state, handoff.attempts) == (Handoff.State.QUEUED, 3)
    assert before + timedelta(seconds=40) <= handoff.next_attempt_at <= timezone.now() + timedelta(seconds=40)
    assert "503" in handoff.last_error


@pytest.fixture
def backoff(settings):
    settings.HANDOFF_RETRY_BASE_SECONDS, settings.HANDOFF_RETRY_CAP_SECONDS = 5, 300


def test_retry_delays_may_reach_a_ceiling_that_doubles_with_each_attempt(backoff, monkeypatch):
    monkeypatch.setattr(runner.random, "uniform", lambda low, high: high)
    assert [retry_delay(attempts) for attempts in range(1, 6)] == [5, 10, 20, 40, 80]


def test_retry_delays_stop_growing_at_the_cap(backoff, monkeypatch):
    monkeypatch.setattr(runner.random, "uniform", lambda low, high: high)
    assert [retry_delay(attempts) for attempts in (7, 8, 30)] == [300, 300, 300]


def test_retry_delays_are_never_under_a_second(backoff, monkeypatch):
    monkeypatch.setattr(runner.random, "uniform", lambda low, high: low)
    assert retry_delay(1) == retry_delay(6) == 1.0


def test_retry_delays_spread_over_the_whole_range_below_the_ceiling(backoff):
    """Full jitter: workers that failed together do not come back together."""
    delays = [retry_delay(4) for _ in range(2000)]  # ceiling 40 s
    assert all(1.0 <= delay <= 40 for delay in delays)
    assert min(delays) < 5 and max(delays) > 35
    assert 15 < sum(delays) / len(delays) < 25  # uniform over 0..40, the first second raised to 1


def test_a_phone_chatwoot_cannot_take_fails_the_handoff_with_the_reason(chatwoot):
    lead = qualified_lead()
    Lead.objects.filter(pk=lead.pk).update(phone="5511987654321")
    handoff = settle(lead)
    assert handoff.state == Handoff.State.FAILED
    assert "E.164" in handoff.last_error
    assert chatwoot_rows(chatwoot)["contacts"] == []


def test_a_long_history_is_split_into_ordered_liquid_safe_parts(chatwoot, settings):
    settings.HANDOFF_NOTE_MAX_CHARS = 600
    lead = qualified_lead()
    lead_services.messages_add(
        lead=lead,
        messages=[
            lead_services.NewMessage(sender="lead", content=f"Mensagem {i}: olá {{{{contact.name}}}}")
            for i in range(12)
        ],
    )
    Handoff.objects.update(history_until=None)
    handoff = settle(lead)
    notes = private_notes(chatwoot)
    total = len(handoff.note_message_ids)
    assert total >= 3 and len(notes) == total
    assert [n["content"].rsplit(":", 1)[-1].strip("`") for n in notes] == [f"{i}/{total}" for i in range(1, total + 1)]
    assert all(len(n["content"]) <= 600 for n in notes)
    joined = "".join(n["content"] for n in notes)
    assert "Mensagem 11: olá {\u200b{contact.name}\u200b}" in joined  # Liquid did not render it


def test_every_call_is_audited_without_the_token(chatwoot):
    handoff = settle(qualified_lead())
    calls = ChatwootCall.objects.filter(handoff=handoff)
    assert calls.count() == 5
    assert set(calls.values_list("step", flat=True)) == {"contact", "conversation", "labels"}
    assert all(call.duration_ms is not None and call.status == 200 for call in calls)
    for call in calls:
        assert "sandbox-token" not in f"{call.request} {call.response}"


def test_an_answer_that_echoes_the_token_is_stored_without_it(chatwoot, faults):
    echo = b'{"error":"Invalid Access Token sandbox-token"}'
    faults.add(Rule("POST", r"/contacts/filter", "status:401", body=echo))
    handoff = settle(qualified_lead())
    call = ChatwootCall.objects.get(handoff=handoff, status=401)
    assert "sandbox-token" not in call.response and "[token]" in call.response
    assert handoff.state == Handoff.State.FAILED and "401" in handoff.last_error
    assert "sandbox-token" not in handoff.last_error


def test_the_api_shows_the_handoff_with_its_conversation_url_and_agent(chatwoot, api):
    lead = qualified_lead()
    handoff = settle(lead)
    body = api.get(f"/api/v1/leads/{lead.pk}/").json()
    assert body["status"] == "handed_off"
    assert body["handoff"]["state"] == "done"
    assert body["handoff"]["conversation_url"] == (
        f"{chatwoot.base_url}/app/accounts/1/conversations/{handoff.conversation_id}"
    )
    assert body["handoff"]["assignee"] == {"id": handoff.assignee_id, "name": handoff.assignee_name}


def test_a_resolved_lead_requalified_later_gets_a_new_handoff(chatwoot):
    lead = qualified_lead()
    first = settle(lead)
    Lead.objects.filter(pk=lead.pk).update(status=Lead.Status.CONVERTIDO)
    lead_services.lead_upsert(phone=phone_parse(lead.phone), data={"qualification_score": 8})
    assert lead.handoffs.count() == 2
    second = lead.handoffs.exclude(pk=first.pk).get()
    assert second.state == Handoff.State.QUEUED and second.trigger == "score"


def test_a_resolution_heard_while_the_handoff_is_in_progress_closes_the_lead_when_it_finishes(chatwoot, faults):
    def agent_resolves_before_the_labels():
        display_id = chatwoot_rows(chatwoot)["conversations"][0]["display_id"]
        chatwoot.resolve(display_id)
        payload = next(e for e in reversed(chatwoot.events) if e["event"] == "conversation_status_changed")
        delivery = WebhookDelivery.objects.create(
            delivery_id="resolvida", event=payload["event"], body=json.dumps(payload)
        )
        webhook_process(delivery_pk=delivery.pk)

    faults.add(Rule("POST", r"/labels$", "before", before=agent_resolves_before_the_labels))
    lead = qualified_lead()
    handoff = settle(lead)
    assert faults.fired and handoff.state == Handoff.State.DONE
    lead.refresh_from_db()
    assert lead.status == Lead.Status.CONVERTIDO and handoff.resolved_at is not None
    assert BotConversation.objects.get(lead=lead).status == BotConversation.Status.CLOSED


def test_one_active_handoff_per_lead(chatwoot):
    lead = qualified_lead()
    from handoff.services import handoff_create

    assert handoff_create(lead=lead, trigger="admin") == lead.handoffs.get()
    assert lead.handoffs.count() == 1


def test_a_cancelled_handoff_stops_at_its_next_checkpoint(chatwoot, faults, admin_user):
    from handoff.services import handoff_cancel

    lead = qualified_lead()
    handoff = lead.handoffs.get()
    faults.add(Rule("POST", r"/contacts$", "before", before=lambda: handoff_cancel(handoff=handoff, user=admin_user)))
    assert handoff_process(handoff_id=handoff.pk) == "lease lost"
    handoff.refresh_from_db()
    assert handoff.state == Handoff.State.CANCELLED
    assert chatwoot_rows(chatwoot)["conversations"] == []


def test_triggering_again_after_a_failure_resumes_the_same_handoff(chatwoot, faults, settings):
    from handoff.services import handoff_trigger_admin

    settings.HANDOFF_MAX_ATTEMPTS, settings.HANDOFF_STEP_RETRIES = 1, 0  # one try: the attempt fails
    faults.add(Rule("POST", r"/labels$", "status:503"))
    lead = qualified_lead()
    failed = settle(lead)
    assert failed.state == Handoff.State.FAILED and failed.conversation_id
    settings.HANDOFF_MAX_ATTEMPTS = 12
    assert handoff_trigger_admin(lead=lead, user=None).pk == failed.pk
    assert settle(lead).state == Handoff.State.DONE
    assert lead.handoffs.count() == 1
    assert_exactly_once(chatwoot)


def test_triggering_again_before_any_conversation_exists_takes_the_new_triggers_score_origin_and_history(
    chatwoot, faults, settings, admin_user
):
    from handoff.services import handoff_trigger_admin

    settings.HANDOFF_MAX_ATTEMPTS, settings.HANDOFF_STEP_RETRIES = 1, 0  # one try: the attempt fails
    faults.add(Rule("POST", r"/contacts/filter", "status:503"))
    lead = qualified_lead(score=8)
    assert settle(lead).state == Handoff.State.FAILED
    lead_services.messages_add(lead=lead, messages=[lead_services.NewMessage(sender="lead", content="Ainda quero!")])
    Lead.objects.filter(pk=lead.pk).update(qualification_score=10)
    settings.HANDOFF_MAX_ATTEMPTS = 12
    resumed = handoff_trigger_admin(lead=Lead.objects.get(pk=lead.pk), user=admin_user)
    assert (resumed.trigger, resumed.triggered_by, resumed.score) == ("admin", admin_user, 10)
    assert resumed.reason == "Transferência manual" and resumed.history_until is None
    assert settle(lead).state == Handoff.State.DONE
    note = private_notes(chatwoot)[0]["content"]
    assert "**Nota:** 10/10" in note and "Ainda quero!" in note


def test_triggering_again_once_the_conversation_exists_keeps_what_the_note_was_rendered_from(
    chatwoot, faults, settings, admin_user
):
    from handoff.services import handoff_trigger_admin

    settings.HANDOFF_MAX_ATTEMPTS, settings.HANDOFF_STEP_RETRIES = 1, 0  # one try: the attempt fails
    faults.add(Rule("POST", r"/labels$", "status:503"))
    lead = qualified_lead()
    failed = settle(lead)
    assert failed.conversation_id and failed.note_message_ids
    resumed = handoff_trigger_admin(lead=lead, user=admin_user)
    assert (resumed.trigger, resumed.score, resumed.history_until) == ("score", 9, failed.history_until)


def test_atlas_triggering_again_after_a_cancel_resumes_and_waits_for_the_request_in_flight(chatwoot, admin_user):
    from handoff.services import handoff_cancel, handoff_request

    lead = qualified_lead()
    handoff = lead.handoffs.get()
    handoff_cancel(handoff=handoff, user=admin_user)
    resumed, reason = handoff_request(lead=lead)
    assert (resumed.pk, reason, resumed.state) == (handoff.pk, "queued", Handoff.State.QUEUED)
    assert resumed.next_attempt_at > timezone.now() + timedelta(seconds=5)
    assert handoff_process(handoff_id=handoff.pk) == "not claimed"  # not before the in-flight window ends
    assert settle(lead).state == Handoff.State.DONE
    assert_exactly_once(chatwoot)


def test_an_old_failed_handoff_cannot_be_retried_once_a_newer_one_exists(chatwoot, admin_user):
    from handoff.services import HandoffRefused, handoff_retry

    lead = qualified_lead()
    old = lead.handoffs.get()
    Handoff.objects.filter(pk=old.pk).update(state=Handoff.State.FAILED)
    Handoff.objects.create(lead=lead, trigger="score", state=Handoff.State.DONE)
    old.refresh_from_db()
    with pytest.raises(HandoffRefused):
        handoff_retry(handoff=old, user=admin_user)


def test_a_lost_answer_while_reusing_a_conversation_keeps_it_reused(chatwoot, faults):
    base = f"{chatwoot.base_url}/api/v1/accounts/1"
    contact = requests.post(
        f"{base}/contacts", json={"phone_number": "+5511987654321", "inbox_id": 1}, headers=HEADERS, timeout=5
    ).json()["payload"]
    requests.post(
        f"{base}/conversations",
        json={
            "inbox_id": 1,
            "contact_id": contact["contact"]["id"],
            "source_id": contact["contact_inbox"]["source_id"],
            "assignee_id": 3,
        },
        headers=HEADERS,
        timeout=5,
    )
    faults.add(Rule("POST", r"/custom_attributes$", "timeout_after_success"))
    handoff = settle(qualified_lead())
    assert faults.fired
    assert handoff.conversation_reused and handoff.assignee_id == 3  # the agent who had it keeps it
    assert_exactly_once(chatwoot)


def test_an_inbox_locked_to_one_conversation_keeps_the_agents_labels(chatwoot):
    base = f"{chatwoot.base_url}/api/v1/accounts/1"
    with chatwoot.state.lock:
        chatwoot.state.inbox(1)["lock_to_single_conversation"] = True
    contact = requests.post(
        f"{base}/contacts", json={"phone_number": "+5511987654321", "inbox_id": 1}, headers=HEADERS, timeout=5
    ).json()["payload"]
    existing = requests.post(
        f"{base}/conversations",
        json={
            "inbox_id": 1,
            "contact_id": contact["contact"]["id"],
            "source_id": contact["contact_inbox"]["source_id"],
            "status": "resolved",
        },
        headers=HEADERS,
        timeout=5,
    ).json()
    requests.post(
        f"{base}/conversations/{existing['id']}/labels", json={"labels": ["cliente-vip"]}, headers=HEADERS, timeout=5
    )
    handoff = settle(qualified_lead())
    conversation = chatwoot_rows(chatwoot)["conversations"][0]
    assert handoff.conversation_id == existing["id"] and handoff.conversation_reused
    assert conversation["labels"][0] == "cliente-vip"
    assert conversation["custom_attributes"]["handoff_id"] == str(handoff.pk)


def test_an_unknown_agent_in_a_rule_fails_with_the_fix_instead_of_recording_a_wrong_owner(chatwoot):
    from handoff.models import RoutingRule

    RoutingRule.objects.create(name="Fantasma", strategy="fixed", agent_ids="2")
    from django.core.cache import cache

    cache.set(
        "nexa:chatwoot:1:agents",
        [{"id": 99, "name": "Fantasma", "email": "", "role": "agent", "availability_status": "online"}],
        60,
    )
    RoutingRule.objects.update(agent_ids="99")
    handoff = settle(qualified_lead())
    assert handoff.state == Handoff.State.FAILED
    assert "agente 99" in handoff.last_error and handoff.assignee_id is None


def test_progress_saved_later_is_kept_when_the_attempt_stops_and_a_repeat_writes_nothing_twice(chatwoot, settings):
    """The labels' checkpoint waits for the next one (checkpoint(later=True)): an attempt that stops in the
    assignment step still saves it with its outcome; lost (the worker killed), the repeat only reads the labels."""
    from django.core.cache import cache

    from handoff.models import RoutingRule
    from handoff.services import handoff_retry

    RoutingRule.objects.create(name="Fantasma", strategy="fixed", agent_ids="99")
    agent = {"id": 99, "name": "Fantasma", "email": "", "role": "agent", "availability_status": "online"}
    cache.set("nexa:chatwoot:1:agents", [agent], 60)
    handoff = settle(qualified_lead())
    assert handoff.state == Handoff.State.FAILED and "agente 99" in handoff.last_error
    assert handoff.labels == settings.HANDOFF_LABELS  # saved with the failure

    RoutingRule.objects.all().delete()
    # The rule fixed (its saved decision dropped), and the labels as if the worker had died before saving them.
    Handoff.objects.filter(pk=handoff.pk).update(routing={}, labels=None)
    calls = ChatwootCall.objects.count()
    handoff = settle(handoff_retry(handoff=handoff, user=None).lead)
    assert handoff.state == Handoff.State.DONE and handoff.labels == settings.HANDOFF_LABELS
    repeat = [f"{c.method} {c.path}" for c in ChatwootCall.objects.order_by("id")[calls:]]
    labels = f"/conversations/{handoff.conversation_id}/labels"
    assert f"GET {labels}" in repeat and f"POST {labels}" not in repeat
    assert chatwoot_rows(chatwoot)["conversations"][0]["labels"] == settings.HANDOFF_LABELS


def test_an_unknown_team_fails_with_the_fix(chatwoot):
    from handoff.models import RoutingRule

    RoutingRule.objects.create(name="Time errado", team_id=77)
    handoff = settle(qualified_lead())
    assert handoff.state == Handoff.State.FAILED
    assert "/teams/77/" in handoff.last_error and "regras de roteamento" in handoff.last_error


def test_a_wrong_inbox_fails_with_an_actionable_message(chatwoot, settings):
    settings.CHATWOOT_INBOX_ID = 42
    handoff = settle(qualified_lead())
    assert handoff.state == Handoff.State.FAILED
    assert "CHATWOOT_INBOX_ID" in handoff.last_error and "check_chatwoot" in handoff.last_error


def test_a_handoff_whose_worker_keeps_dying_is_dead_lettered(chatwoot, settings):
    from handoff.services import handoffs_sweep

    settings.HANDOFF_MAX_ATTEMPTS = 3
    lead = qualified_lead()
    Handoff.objects.filter(lead=lead).update(
        state=Handoff.State.IN_PROGRESS, attempts=3, lease_expires_at=timezone.now() - timedelta(seconds=1)
    )
    assert handoff_process(handoff_id=lead.handoffs.get().pk) == "not claimed"
    handoffs_sweep()
    handoff = lead.handoffs.get()
    assert handoff.state == Handoff.State.FAILED and "worker parou" in handoff.last_error


def test_a_single_message_longer_than_a_part_is_continued_not_cut(chatwoot, settings):
    settings.HANDOFF_NOTE_MAX_CHARS = 500
    lead = qualified_lead()
    long_text = "palavra " * 200
    lead_services.messages_add(lead=lead, messages=[lead_services.NewMessage(sender="lead", content=long_text)])
    Handoff.objects.update(history_until=None)
    settle(lead)
    joined = "".join(n["content"] for n in private_notes(chatwoot))
    assert joined.count("palavra") >= 200


@pytest.mark.parametrize(
    ("method", "path", "lookup", "looked_before"),
    [
        ("PATCH", r"/contacts/\d+$", r"^/contacts/\d+$", 0),  # found by the filter: not read, then not again
        ("POST", r"/conversations$", r"^/contacts/\d+/conversations$", 1),
    ],
    ids=["contact-update", "conversation-create"],
)
@pytest.mark.parametrize(("kind", "looks_again"), [("status:503", 0), ("status:429", 0), ("timeout_after_success", 1)])
def test_an_existing_contact_is_read_again_only_after_a_lost_answer(
    chatwoot, faults, method, path, lookup, looked_before, kind, looks_again
):
    """A step run again after a failure that wrote nothing uses what it read: only a lost answer may have changed
    the contact or its conversations unseen."""
    body = {"name": "Mariana", "phone_number": "+5511987654321"}
    requests.post(f"{chatwoot.base_url}/api/v1/accounts/1/contacts", json=body, headers=HEADERS, timeout=5)
    faults.add(Rule(method, path, kind))
    handoff = settle(qualified_lead())
    assert faults.fired and handoff.state == Handoff.State.DONE and handoff.attempts == 1
    assert ChatwootCall.objects.filter(method="GET", path__regex=lookup).count() == looked_before + looks_again
    assert_exactly_once(chatwoot)


@pytest.mark.parametrize(
    ("path", "lookup", "looked_before"),
    [(r"/contacts$", r"/contacts/filter$", 1), (r"/conversations$", r"/contacts/\d+/conversations$", 0)],
    ids=["contact-create", "conversation-create"],
)
@pytest.mark.parametrize(("kind", "looks_again"), [("status:503", 0), ("timeout_after_success", 1)])
def test_a_create_is_looked_for_again_only_when_its_answer_was_lost(
    chatwoot, faults, path, lookup, looked_before, kind, looks_again
):
    faults.add(Rule("POST", path, kind))
    handoff = settle(qualified_lead())
    assert faults.fired and handoff.state == Handoff.State.DONE and handoff.attempts == 1
    # A 5xx is Chatwoot saying it did nothing: the create is sent again at once; a lost answer is looked for first.
    assert ChatwootCall.objects.filter(path__regex=lookup).count() == looked_before + looks_again
    assert_exactly_once(chatwoot)
