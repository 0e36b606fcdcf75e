"""Speed-to-lead escalation and reconciliation, with controlled time, against the sandbox."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from handoff.business_hours import business_seconds
from handoff.models import ChatwootCall, ChatwootThrottle, Handoff, RoutingRule
from handoff.services import handoffs_reconcile, handoffs_sla_check
from leads.models import Lead
from tests.chatwoot_faults import Rule, assert_paused_briefly
from tests.test_handoff_pipeline import chatwoot_rows, private_notes, qualified_lead, settle

pytestmark = pytest.mark.django_db

SP = ZoneInfo("America/Sao_Paulo")


@pytest.fixture
def handed_off(chatwoot) -> Handoff:
    return settle(qualified_lead())


def test_no_reply_past_the_target_escalates_to_the_next_agent_with_a_note(handed_off, chatwoot):
    first_agent = handed_off.assignee_id
    assert handoffs_sla_check(now=handed_off.finished_at + timedelta(minutes=4)) == 0
    assert handoffs_sla_check(now=handed_off.finished_at + timedelta(minutes=6)) == 1
    handed_off.refresh_from_db()
    assert handed_off.escalations == 1 and handed_off.assignee_id not in (None, first_agent)
    assert chatwoot_rows(chatwoot)["conversations"][0]["assignee_id"] == handed_off.assignee_id
    assert "Sem primeira resposta em 5 min" in private_notes(chatwoot)[-1]["content"]
    assert handed_off.events.filter(kind="escalated").exists()


def escalation_notes(sandbox) -> list[str]:
    return [n["content"] for n in private_notes(sandbox) if "nexa-escalation:" in n["content"]]


def test_an_escalation_note_whose_answer_was_lost_is_neither_posted_nor_escalated_again(handed_off, chatwoot, faults):
    faults.add(Rule("POST", r"/messages$", "timeout_after_success"))
    assert handoffs_sla_check(now=handed_off.finished_at + timedelta(minutes=6)) == 1
    escalated_to = Handoff.objects.get(pk=handed_off.pk).assignee_id
    assert handoffs_sla_check(now=handed_off.finished_at + timedelta(minutes=7)) == 0
    handed_off.refresh_from_db()
    assert (handed_off.escalations, handed_off.assignee_id) == (1, escalated_to)
    assert chatwoot_rows(chatwoot)["conversations"][0]["assignee_id"] == escalated_to
    assert len(escalation_notes(chatwoot)) == 1 and handed_off.escalation_note_pending == ""
    assert handed_off.events.filter(kind="escalated").count() == 1


def test_an_escalation_note_that_failed_is_posted_on_the_next_run(handed_off, chatwoot, faults):
    faults.add(Rule("POST", r"/messages$", "status:503"))
    handoffs_sla_check(now=handed_off.finished_at + timedelta(minutes=6))
    assert escalation_notes(chatwoot) == []
    handoffs_sla_check(now=handed_off.finished_at + timedelta(minutes=7))
    handed_off.refresh_from_db()
    assert len(escalation_notes(chatwoot)) == 1 and handed_off.escalation_note_pending == ""
    assert f"nexa-escalation:{handed_off.pk}:1" in escalation_notes(chatwoot)[0]
    assert handed_off.escalations == 1


def test_the_next_escalation_waits_a_full_target_from_the_last_one(handed_off):
    now = handed_off.finished_at + timedelta(minutes=6)
    handoffs_sla_check(now=now)
    assert handoffs_sla_check(now=now + timedelta(minutes=2)) == 0
    assert handoffs_sla_check(now=now + timedelta(minutes=6)) == 1
    handed_off.refresh_from_db()
    assert handed_off.escalations == 2


def test_escalations_stop_at_the_configured_maximum(handed_off, settings):
    settings.HANDOFF_SLA_MAX_ESCALATIONS = 1
    now = handed_off.finished_at
    assert [handoffs_sla_check(now=now + timedelta(minutes=m)) for m in (6, 12, 18)] == [1, 0, 0]


def test_a_human_reply_stops_the_clock(handed_off):
    Handoff.objects.filter(pk=handed_off.pk).update(first_reply_at=handed_off.finished_at + timedelta(minutes=2))
    assert handoffs_sla_check(now=handed_off.finished_at + timedelta(hours=1)) == 0


def test_a_routing_rule_may_set_its_own_target(chatwoot):
    RoutingRule.objects.create(name="Quentes", sla_minutes=15)
    handoff = settle(qualified_lead())
    assert handoffs_sla_check(now=handoff.finished_at + timedelta(minutes=10)) == 0
    assert handoffs_sla_check(now=handoff.finished_at + timedelta(minutes=16)) == 1


def test_outside_business_hours_the_clock_stops(handed_off, settings):
    settings.HANDOFF_BUSINESS_HOURS = "mon-fri 08:00-18:00"
    friday_evening = datetime(2026, 11, 27, 17, 58, tzinfo=SP)
    Handoff.objects.filter(pk=handed_off.pk).update(finished_at=friday_evening, sla_started_at=friday_evening)
    assert handoffs_sla_check(now=datetime(2026, 11, 30, 8, 2, tzinfo=SP)) == 0  # 2 + 2 business minutes
    assert handoffs_sla_check(now=datetime(2026, 11, 30, 8, 4, tzinfo=SP)) == 1


@pytest.mark.parametrize(
    ("start", "end", "spec", "minutes"),
    [
        ((2026, 11, 25, 9, 0), (2026, 11, 25, 9, 30), "", 30),
        ((2026, 11, 25, 17, 50), (2026, 11, 26, 8, 10), "mon-fri 08:00-18:00", 20),
        ((2026, 11, 28, 10, 0), (2026, 11, 28, 12, 0), "mon-fri 08:00-18:00", 0),
        ((2026, 11, 28, 10, 0), (2026, 11, 28, 14, 0), "mon-fri 08:00-18:00, sat 09:00-13:00", 180),
    ],
)
def test_business_seconds(start, end, spec, minutes):
    seconds = business_seconds(datetime(*start, tzinfo=SP), datetime(*end, tzinfo=SP), spec)
    assert seconds == minutes * 60


def test_reconciliation_applies_a_resolution_whose_webhook_was_lost(handed_off, chatwoot):
    chatwoot.resolve(handed_off.conversation_id)  # no webhook URL: Nexa hears nothing
    assert handoffs_reconcile(now=timezone.now()) == 0  # not quiet long enough yet
    assert handoffs_reconcile(now=timezone.now() + timedelta(minutes=31)) == 1
    lead = Lead.objects.get(pk=handed_off.lead_id)
    assert lead.status == Lead.Status.CONVERTIDO
    assert handed_off.events.filter(kind="reconcile").exists()


def test_reconciliation_reads_the_deal_value_and_loss_reason_it_missed(handed_off, chatwoot):
    import requests

    from tests.test_handoff_pipeline import HEADERS

    url = f"{chatwoot.base_url}/api/v1/accounts/1/conversations/{handed_off.conversation_id}/custom_attributes"
    attributes = {"custom_attributes": {"valor_negocio": "R$ 8.900,00", "motivo_perda": "Prazo"}}
    requests.post(url, json=attributes, headers=HEADERS, timeout=5).raise_for_status()
    handoffs_reconcile(now=timezone.now() + timedelta(minutes=31))
    handed_off.refresh_from_db()
    assert (str(handed_off.deal_value), handed_off.loss_reason) == ("8900.00", "Prazo")


def test_reconciliation_records_a_first_reply_it_missed(handed_off, chatwoot):
    chatwoot.agent_reply(handed_off.conversation_id, handed_off.assignee_id, "Olá! Sou do time de vendas.")
    handoffs_reconcile(now=timezone.now() + timedelta(minutes=31))
    handed_off.refresh_from_db()
    assert handed_off.first_reply_at is not None


def test_reconciliation_stays_within_the_request_budget(handed_off, chatwoot, settings):
    from handoff.models import ChatwootCall

    settings.CHATWOOT_RATE_LIMIT_PER_MINUTE = 1
    minute = timezone.now().replace(second=0, microsecond=0)  # the budget counts clock minutes
    ChatwootThrottle.objects.update_or_create(pk=1, defaults={"window_started_at": minute, "window_count": 1})
    calls = ChatwootCall.objects.count()
    assert handoffs_reconcile(now=timezone.now() + timedelta(minutes=31)) == 0
    assert ChatwootCall.objects.count() == calls


def test_reconciliation_skips_conversations_it_has_heard_about_recently(handed_off):
    Handoff.objects.filter(pk=handed_off.pk).update(chatwoot_heard_at=timezone.now() + timedelta(minutes=20))
    assert handoffs_reconcile(now=timezone.now() + timedelta(minutes=31)) == 0


@pytest.fixture
def two_handed_off(chatwoot) -> list[Handoff]:
    return [settle(qualified_lead()), settle(qualified_lead("(21) 99812-3456"))]


def test_a_429_while_reconciling_pauses_every_worker_and_ends_the_batch(two_handed_off, faults):
    faults.add(Rule("GET", r"/conversations/\d+$", "status:429"))
    assert handoffs_reconcile(now=timezone.now() + timedelta(minutes=31)) == 0
    assert_paused_briefly()
    assert ChatwootCall.objects.filter(step="reconcile").count() == 1


def test_a_429_while_escalating_pauses_every_worker_and_ends_the_batch(two_handed_off, faults):
    faults.add(Rule("POST", r"/assignments$", "status:429"))
    now = max(h.finished_at for h in two_handed_off) + timedelta(minutes=6)
    assert handoffs_sla_check(now=now) == 0
    assert_paused_briefly()
    assert ChatwootCall.objects.filter(step="escalation", path__endswith="/assignments").count() == 1
    assert list(Handoff.objects.values_list("escalations", flat=True)) == [0, 0]
