"""The one way Nexa calls Chatwoot (handoff.services.chatwoot): every call audited, budgeted, a 429 paused for all."""

import threading
from datetime import timedelta
from pathlib import Path

import pytest
from django.core.cache import cache
from django.core.management import CommandError, call_command
from django.utils import timezone

from handoff import throttle
from handoff.models import ChatwootCall, ChatwootThrottle
from handoff.services import handoff_reassign, handoffs_reconcile, reassign_choices
from handoff.services.chatwoot import chatwoot_for
from tests.chatwoot_faults import Rule, assert_paused_briefly
from tests.test_handoff_pipeline import qualified_lead, settle

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parent.parent


def budget_used() -> int:
    return ChatwootThrottle.objects.filter(pk=1).values_list("window_count", flat=True).first() or 0


def budget_spend(left: int = 0) -> None:
    """This minute's budget is gone but for `left` calls (other workers, Evolution and n8n share it)."""
    minute = timezone.now().replace(second=0, microsecond=0)
    spent = throttle.budget_per_minute() - left
    ChatwootThrottle.objects.update_or_create(pk=1, defaults={"window_started_at": minute, "window_count": spent})


@pytest.fixture
def handed_off(chatwoot):
    return settle(qualified_lead())


def test_only_the_factory_builds_chatwoot_clients():
    """Every Chatwoot call in Nexa goes through chatwoot_for: no other module constructs a client."""
    builders = {
        str(path.relative_to(ROOT))
        for package in ("nexa", "leads", "handoff", "dashboard")
        for path in (ROOT / package).rglob("*.py")
        if "ChatwootClient(" in path.read_text()
    }
    assert builders == {"handoff/services/chatwoot.py"}


def test_a_thread_keeps_its_connection_to_chatwoot_from_one_client_to_the_next(chatwoot):
    """One session per thread and settings: the next attempt's calls reuse the connection (no new TLS handshake)."""
    first, second = chatwoot_for(step="check"), chatwoot_for(step="check")
    first.profile()
    second.profile()
    assert first.session is second.session
    pools = first.session.get_adapter(chatwoot.base_url).poolmanager.pools
    assert [(pools[key].num_connections, pools[key].num_requests) for key in pools.keys()] == [(1, 2)]  # noqa: SIM118 (no iteration)

    other = []
    thread = threading.Thread(target=lambda: other.append(chatwoot_for(step="check").session))
    thread.start()
    thread.join()
    assert other[0] is not first.session  # a Session is not safe to share between threads


def test_the_reassign_path_is_audited_and_budgeted(handed_off):
    before_calls, before_budget = ChatwootCall.objects.count(), budget_used()
    handoff_reassign(handoff=handed_off, user="gerente", agent_id=3, team_id=None)
    calls = list(ChatwootCall.objects.order_by("id")[before_calls:])
    assert [(call.step, call.handoff_id, call.path) for call in calls] == [
        ("reassign", handed_off.pk, f"/conversations/{handed_off.conversation_id}/assignments")
    ]
    assert budget_used() == before_budget + 1


def test_reassign_waits_when_the_minutes_budget_is_spent_and_sends_nothing(handed_off):
    budget_spend()
    calls = ChatwootCall.objects.count()
    with pytest.raises(throttle.ChatwootDeferred):
        handoff_reassign(handoff=handed_off, user="gerente", agent_id=3, team_id=None)
    assert ChatwootCall.objects.count() == calls


def test_a_reassign_cut_short_records_what_chatwoot_already_did(handed_off):
    agent_before = handed_off.assignee_id
    assert agent_before != 3
    budget_spend(left=1)  # the team call goes out, the agent call waits for the next minute
    with pytest.raises(throttle.ChatwootDeferred):
        handoff_reassign(handoff=handed_off, user="gerente", agent_id=3, team_id=1)
    handed_off.refresh_from_db()
    assert (handed_off.team_id, handed_off.assignee_id) == (1, agent_before)
    assert handed_off.events.get(kind="reassigned").data == {"team_id": 1, "team_name": "Vendas"}


def test_reconciliation_audits_each_call_on_the_handoff_it_polled(chatwoot):
    handoffs = [settle(qualified_lead()), settle(qualified_lead("(21) 99812-3456"))]
    assert handoffs_reconcile(now=timezone.now() + timedelta(minutes=31)) == 2
    polled = ChatwootCall.objects.filter(step="reconcile").order_by("id")
    assert sorted((call.handoff_id, call.path) for call in polled) == sorted(
        (handoff.pk, f"/conversations/{handoff.conversation_id}") for handoff in handoffs
    )


def test_the_agent_and_team_lists_for_reassigning_are_audited_and_budgeted(chatwoot):
    cache.clear()
    before_budget = budget_used()
    agents, teams = reassign_choices()
    assert agents and teams
    calls = list(ChatwootCall.objects.order_by("id").values_list("step", "handoff_id", "path"))
    assert calls == [("reassign", None, "/agents"), ("reassign", None, "/teams")]
    assert budget_used() == before_budget + 2


def test_a_429_anywhere_pauses_every_worker_and_is_one_deferral(handed_off, faults):
    faults.add(Rule("POST", r"/assignments$", "status:429"))
    with pytest.raises(throttle.ChatwootDeferred) as deferred:
        handoff_reassign(handoff=handed_off, user="gerente", agent_id=3, team_id=None)
    paused_until = assert_paused_briefly()
    assert deferred.value.until == paused_until
    assert ChatwootCall.objects.filter(step="reassign", status=429).count() == 1
    with pytest.raises(throttle.ChatwootDeferred):  # the next caller, whoever it is, waits without calling
        chatwoot_for(step="reconcile").conversation_get(handed_off.conversation_id)
    assert not ChatwootCall.objects.filter(step="reconcile").exists()


def test_the_configuration_check_is_audited_and_budgeted(chatwoot, capsys):
    call_command("check_chatwoot")
    checks = ChatwootCall.objects.filter(step="check")
    assert checks.exists() and not checks.exclude(handoff=None).exists()
    assert budget_used() == checks.count()


def test_the_configuration_check_reports_a_pause_instead_of_calling(chatwoot, capsys):
    throttle.throttle_pause(60)
    with pytest.raises(CommandError):
        call_command("check_chatwoot")
    assert "429" in capsys.readouterr().out
    assert not ChatwootCall.objects.exists()


def test_calls_unanswered_in_a_row_pause_everyone_then_probes_go_one_at_a_time_until_chatwoot_answers(
    chatwoot, faults, monkeypatch, settings
):
    from handoff.chatwoot import ChatwootError, ChatwootNotFound
    from handoff.services import chatwoot as factory

    monkeypatch.setattr(factory, "_unreachable", factory._Unreachable())
    faults.add(Rule("GET", r"/conversations/\d+$", "status:503", times=factory.OUTAGE_AFTER * 2))
    client = chatwoot_for(step="reconcile")
    for _ in range(factory.OUTAGE_AFTER - 1):
        with pytest.raises(ChatwootError):
            client.conversation_get(1)
    assert not ChatwootThrottle.objects.filter(paused_until__gt=timezone.now()).exists()  # bad luck, so far
    with pytest.raises(ChatwootError):
        client.conversation_get(1)  # the tenth in a row: an outage
    first = ChatwootThrottle.objects.get().paused_until
    assert timezone.now() < first <= timezone.now() + timedelta(seconds=throttle.OUTAGE_PAUSE_CAP)
    with pytest.raises(throttle.ChatwootDeferred):  # everyone waits: no call goes out
        chatwoot_for(step="reconcile").conversation_get(1)
    calls = ChatwootCall.objects.count()
    assert calls == factory.OUTAGE_AFTER

    ChatwootThrottle.objects.update(paused_until=timezone.now())  # the pause ends: probes, one at a time
    for _ in range(factory.OUTAGE_AFTER):
        assert ChatwootThrottle.objects.get().probe_until is None  # the last probe went unanswered: one more
        with pytest.raises(ChatwootError):
            client.conversation_get(1)
    row = ChatwootThrottle.objects.get()  # ten more unanswered: a longer pause
    assert row.paused_until > timezone.now() and row.pause_seconds == 4 * settings.CHATWOOT_PAUSE_ON_429_SECONDS

    ChatwootThrottle.objects.update(paused_until=timezone.now())  # Chatwoot is back: the probe is answered
    with pytest.raises(ChatwootNotFound):
        client.conversation_get(1)  # answered (404 here): an answer all the same
    assert ChatwootThrottle.objects.get().pause_seconds == 0
    assert ChatwootCall.objects.count() == calls + factory.OUTAGE_AFTER + 1
