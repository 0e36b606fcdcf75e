"""The retention purge: old rows go, recent rows and rows awaiting action stay, in bounded batches, every hour."""

import io
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django.utils.module_loading import import_string
from django_q.models import Schedule, Task

from handoff import tasks
from handoff.models import ChatwootCall, WebhookDelivery
from handoff.services import retention_purge

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 11, 30, 15, 0, tzinfo=UTC)
RECEIVED = WebhookDelivery.State.RECEIVED
PROCESSED = WebhookDelivery.State.PROCESSED
IGNORED = WebhookDelivery.State.IGNORED
FAILED = WebhookDelivery.State.FAILED


@pytest.fixture(autouse=True)
def retention(settings):
    settings.NEXA_AUDIT_RETENTION_DAYS = 90
    settings.NEXA_WEBHOOK_RETENTION_DAYS = 30
    settings.NEXA_PURGE_BATCH_SIZE = 1000


def chatwoot_call(days_ago: float, now: datetime = NOW) -> ChatwootCall:
    return ChatwootCall.objects.create(
        step="contact",
        method="POST",
        path="/api/v1/accounts/1/contacts/filter",
        status=200,
        duration_ms=84,
        created_at=now - timedelta(days=days_ago),
    )


def delivery(days_ago: float, state: str, now: datetime = NOW) -> WebhookDelivery:
    return WebhookDelivery.objects.create(
        delivery_id=str(uuid.uuid4()),
        event="conversation_status_changed",
        conversation_id=128,
        body='{"event":"conversation_status_changed","id":128,"status":"resolved"}',
        state=state,
        received_at=now - timedelta(days=days_ago),
    )


def worker_task(days_ago: float, *, success: bool = True, now: datetime = NOW) -> Task:
    finished = now - timedelta(days=days_ago)
    return Task.objects.create(
        id=uuid.uuid4().hex,
        name=f"tarefa-{uuid.uuid4().hex[:8]}",
        func="handoff.tasks.handoffs_sweep",
        started=finished - timedelta(seconds=2),
        stopped=finished,
        success=success,
    )


def test_chatwoot_calls_older_than_the_audit_retention_are_deleted():
    chatwoot_call(days_ago=91)
    recent = chatwoot_call(days_ago=89)

    counts = retention_purge(now=NOW)

    assert counts.chatwoot_calls == 1
    assert list(ChatwootCall.objects.values_list("pk", flat=True)) == [recent.pk]


def test_processed_and_ignored_deliveries_older_than_the_webhook_retention_are_deleted():
    delivery(days_ago=31, state=PROCESSED)
    delivery(days_ago=31, state=IGNORED)
    recent = delivery(days_ago=29, state=PROCESSED)

    counts = retention_purge(now=NOW)

    assert counts.webhook_deliveries == 2
    assert list(WebhookDelivery.objects.values_list("pk", flat=True)) == [recent.pk]


def test_received_and_failed_deliveries_are_kept_however_old():
    waiting = {delivery(days_ago=400, state=RECEIVED).pk, delivery(days_ago=400, state=FAILED).pk}

    counts = retention_purge(now=NOW)

    assert counts.webhook_deliveries == 0
    assert set(WebhookDelivery.objects.values_list("pk", flat=True)) == waiting


def test_finished_tasks_older_than_the_retention_are_deleted_and_failed_tasks_kept():
    worker_task(days_ago=91)
    recent = worker_task(days_ago=1)
    failed = worker_task(days_ago=91, success=False)

    counts = retention_purge(now=NOW)

    assert counts.tasks == 1
    assert set(Task.objects.values_list("pk", flat=True)) == {recent.pk, failed.pk}


def test_each_run_deletes_at_most_max_batches_of_batch_size_rows():
    for _ in range(25):
        chatwoot_call(days_ago=120)

    with CaptureQueriesContext(connection) as queries:
        first = retention_purge(now=NOW, batch_size=10, max_batches=2)
    deletes = [q["sql"] for q in queries.captured_queries if q["sql"].startswith("DELETE")]

    assert first.chatwoot_calls == 20
    assert len(deletes) == 2
    assert ChatwootCall.objects.count() == 5
    assert retention_purge(now=NOW, batch_size=10, max_batches=2).chatwoot_calls == 5
    assert not ChatwootCall.objects.exists()


def test_a_dry_run_counts_without_deleting():
    chatwoot_call(days_ago=91)
    delivery(days_ago=31, state=PROCESSED)
    worker_task(days_ago=91)

    counts = retention_purge(now=NOW, dry_run=True)

    assert counts == (1, 1, 1)
    assert ChatwootCall.objects.count() == WebhookDelivery.objects.count() == Task.objects.count() == 1


def test_a_retention_of_zero_days_keeps_that_kind_for_ever(settings):
    settings.NEXA_AUDIT_RETENTION_DAYS = 0
    chatwoot_call(days_ago=3000)
    worker_task(days_ago=3000)
    delivery(days_ago=31, state=PROCESSED)

    counts = retention_purge(now=NOW)

    assert counts == (0, 1, 0)
    assert ChatwootCall.objects.exists() and Task.objects.exists()


def test_the_purge_is_scheduled_every_hour():
    schedule = Schedule.objects.get(name="retention_purge")

    assert schedule.schedule_type == Schedule.HOURLY
    assert schedule.repeats == -1
    assert import_string(schedule.func) is tasks.retention_purge


def test_the_task_purges_against_the_current_time_and_returns_the_counts():
    now = timezone.now()
    chatwoot_call(days_ago=91, now=now)
    chatwoot_call(days_ago=1, now=now)

    assert tasks.retention_purge() == {"chatwoot_calls": 1, "webhook_deliveries": 0, "tasks": 0}


def test_purge_old_rows_dry_run_reports_and_keeps_the_rows():
    chatwoot_call(days_ago=91, now=timezone.now())
    out = io.StringIO()

    call_command("purge_old_rows", "--dry-run", stdout=out)

    assert "would delete: 1 Chatwoot calls" in out.getvalue()
    assert ChatwootCall.objects.count() == 1


def test_purge_old_rows_deletes_the_whole_backlog_in_batches():
    now = timezone.now()
    for _ in range(7):
        delivery(days_ago=45, state=IGNORED, now=now)
    out = io.StringIO()

    call_command("purge_old_rows", "--batch-size", "3", stdout=out)

    assert "7 webhook deliveries (> 30 days)" in out.getvalue()
    assert not WebhookDelivery.objects.exists()
