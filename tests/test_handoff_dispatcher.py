"""The dispatcher: handoff attempts on threads, one dispatcher at a time, due attempts on time, and the handover
between dispatcher tasks; the attempt's own short retries."""

import threading
import time
from datetime import timedelta

import pytest
from django.db import connections
from django.utils import timezone

from handoff.models import ChatwootCall, Handoff, HandoffDispatcher
from handoff.services import dispatcher, handoff_process, handoffs_sweep, lifecycle, runner
from tests.chatwoot_faults import Rule
from tests.factories import LeadFactory
from tests.workers import assert_exactly_once


@pytest.fixture
def asked(monkeypatch):
    """The dispatcher tasks asked for (django-q's async_task), instead of queuing them."""
    sent = []
    monkeypatch.setattr(dispatcher, "async_task", lambda *args, **kwargs: sent.append((args, kwargs)))
    return sent


def queued(count: int, **fields) -> list[Handoff]:
    return [
        Handoff.objects.create(lead=LeadFactory(qualification_score=9), trigger="score", **fields) for _ in range(count)
    ]


def test_a_new_handoff_asks_for_one_dispatcher_and_the_task_carries_nothing(db, asked):
    lifecycle.handoff_enqueue()
    lifecycle.handoff_enqueue()  # one is starting: not asked again
    assert asked == [(("handoff.tasks.handoffs_dispatch",), {"group": "handoff"})]
    HandoffDispatcher.objects.update(alive_until=timezone.now() - timedelta(seconds=1))  # it never started
    lifecycle.handoff_enqueue()
    assert len(asked) == 2


def test_a_failed_request_for_a_dispatcher_is_logged_and_left_to_the_sweep(db, monkeypatch, caplog):
    def broken(*args, **kwargs):
        raise ConnectionError("broker down")

    monkeypatch.setattr(dispatcher, "async_task", broken)
    lifecycle.handoff_enqueue()
    assert "could not enqueue the handoff dispatcher" in caplog.text


def test_the_sweep_asks_for_a_dispatcher_only_when_a_handoff_is_due_or_abandoned(db, asked):
    now = timezone.now()
    queued(1, next_attempt_at=now + timedelta(minutes=5))
    queued(1, state="in_progress", lease_expires_at=now + timedelta(minutes=5))
    queued(1, state="failed", next_attempt_at=now - timedelta(days=1))
    assert handoffs_sweep() == 0 and asked == []
    queued(1, next_attempt_at=now - timedelta(seconds=1))
    queued(1, state="in_progress", lease_expires_at=now - timedelta(seconds=1))
    assert handoffs_sweep() == 2 and len(asked) == 1


def test_the_sweep_is_scheduled_every_minute(db):
    from django_q.models import Schedule

    schedule = Schedule.objects.get(name="handoffs_sweep")
    assert (schedule.func, schedule.schedule_type, schedule.minutes) == ("handoff.tasks.handoffs_sweep", "I", 1)


@pytest.mark.django_db(transaction=True)
def test_handoffs_run_at_once_on_the_threads_and_each_exactly_once(chatwoot, settings, asked):
    settings.HANDOFF_THREADS = 4
    chatwoot.set_latency(100)
    queued(8)
    running, most = set(), 0
    lock = threading.Lock()

    def run(*, handoff_id):
        nonlocal most
        with lock:
            running.add(handoff_id)
            most = max(most, len(running))
        try:
            return handoff_process(handoff_id=handoff_id)
        finally:
            with lock:
                running.discard(handoff_id)

    assert dispatcher.handoffs_dispatch(run=run, seconds=30) == 8
    assert most == 4  # every thread busy at once, never more
    done = list(Handoff.objects.all())
    assert_exactly_once(chatwoot, leads=8, handoffs=done)
    assert {h.attempts for h in done} == {1}
    assert HandoffDispatcher.objects.get().alive_until is None  # nothing left: the lease is free
    assert asked == []  # and no successor asked for


@pytest.mark.django_db(transaction=True)
def test_a_hung_attempt_holds_one_thread_while_the_others_keep_going(chatwoot, settings, asked):
    settings.HANDOFF_THREADS = 2
    hung, *_ = queued(5)
    release = threading.Event()

    def run(*, handoff_id):
        if handoff_id == hung.pk:
            release.wait(30)  # a call hanging past everything else
        return handoff_process(handoff_id=handoff_id)

    def watch():
        try:
            _wait_for(lambda: Handoff.objects.filter(state="done").count() == 4)
        finally:
            release.set()
            connections.close_all()

    watcher = threading.Thread(target=watch)
    watcher.start()
    dispatcher.handoffs_dispatch(run=run, seconds=30)
    watcher.join()
    # The four others were done on the one free thread while the hung one still held its thread.
    assert Handoff.objects.filter(state="done").count() == 5
    assert Handoff.objects.get(pk=hung.pk).finished_at > max(h.finished_at for h in Handoff.objects.exclude(pk=hung.pk))


@pytest.mark.django_db(transaction=True)
def test_an_attempt_that_comes_due_runs_within_a_poll_of_its_time(chatwoot, asked):
    due_at = timezone.now() + timedelta(seconds=2)
    (handoff,) = queued(1, next_attempt_at=due_at)
    dispatcher.handoffs_dispatch(run=handoff_process, seconds=30)
    started = handoff.events.get(kind="attempt").created_at
    assert due_at <= started <= due_at + timedelta(seconds=dispatcher.POLL_SECONDS + 0.5)


@pytest.mark.django_db(transaction=True)
def test_only_one_dispatcher_runs_and_a_vanished_one_is_replaced(chatwoot, asked):
    queued(1, next_attempt_at=timezone.now() + timedelta(minutes=5))
    alive = timezone.now() + timedelta(seconds=5)
    HandoffDispatcher.objects.create(pk=1, token="7d0c2f1e-0000-4000-8000-000000000001", alive_until=alive)
    assert dispatcher.handoffs_dispatch(run=handoff_process, seconds=1) == 0  # another one holds the lease
    lifecycle.handoff_enqueue()
    assert asked == []
    HandoffDispatcher.objects.update(alive_until=timezone.now() - timedelta(seconds=1))  # its worker was killed
    handoffs_sweep()
    lifecycle.handoff_enqueue()
    assert len(asked) == 1


@pytest.mark.django_db(transaction=True)
def test_a_dispatcher_hands_over_to_its_successor_without_a_gap(chatwoot, settings, monkeypatch):
    settings.HANDOFF_THREADS = 2
    chatwoot.set_latency(50)
    queued(6)
    successors = []

    def successor_task(*args, **kwargs):
        thread = threading.Thread(target=lambda: dispatcher.handoffs_dispatch(run=handoff_process, seconds=30))
        successors.append(thread)
        thread.start()

    monkeypatch.setattr(dispatcher, "async_task", successor_task)
    dispatcher.handoffs_dispatch(run=handoff_process, seconds=0.2)  # hands over almost at once
    for thread in successors:
        thread.join()
    assert len(successors) == 1
    done = list(Handoff.objects.all())
    assert_exactly_once(chatwoot, leads=6, handoffs=done)
    assert {h.attempts for h in done} == {1}


def test_a_transient_failure_is_retried_inside_the_attempt_after_short_growing_pauses(
    db, chatwoot, faults, settings, monkeypatch
):
    settings.HANDOFF_STEP_RETRY_SECONDS = 0.5
    pauses = []
    monkeypatch.setattr(runner.time, "sleep", pauses.append)
    monkeypatch.setattr(runner.random, "uniform", lambda low, high: high)  # the jitter's top
    faults.add(Rule("POST", r"/contacts/filter", "status:503", times=settings.HANDOFF_STEP_RETRIES))
    (handoff,) = queued(1)
    assert handoff_process(handoff_id=handoff.pk) == "done"
    handoff.refresh_from_db()
    assert handoff.attempts == 1 and handoff.last_error == ""
    assert pauses == [0.5, 1.0, 2.0, 4.0, 4.0]  # doubling, up to 8 times the first
    assert ChatwootCall.objects.filter(path__endswith="/contacts/filter", status=503).count() == 5


def test_the_attempt_gives_up_to_the_backoff_once_its_retries_are_spent(db, chatwoot, faults, settings, monkeypatch):
    monkeypatch.setattr(runner.time, "sleep", lambda seconds: None)
    faults.add(Rule("POST", r"/contacts/filter", "status:502", times=settings.HANDOFF_STEP_RETRIES + 1))
    (handoff,) = queued(1)
    handoff_process(handoff_id=handoff.pk)
    handoff.refresh_from_db()
    assert (handoff.state, handoff.attempts) == (Handoff.State.QUEUED, 1)
    assert handoff.next_attempt_at > timezone.now() and "502" in handoff.last_error


def _wait_for(condition, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.05)
