"""Retention: old Chatwoot call audit rows, settled webhook deliveries and finished worker tasks, deleted in batches."""

import logging
from datetime import datetime, timedelta
from typing import NamedTuple

from django.conf import settings
from django.db.models import QuerySet
from django.utils import timezone
from django_q.models import Success

from handoff.models import ChatwootCall, WebhookDelivery

logger = logging.getLogger(__name__)

# Only deliveries with nothing left to do; received and failed ones wait for the requeue job or "Reprocessar".
SETTLED_DELIVERY_STATES = (WebhookDelivery.State.PROCESSED, WebhookDelivery.State.IGNORED)


class PurgeCounts(NamedTuple):
    chatwoot_calls: int
    webhook_deliveries: int
    tasks: int


def retention_purge(
    *,
    now: datetime | None = None,
    batch_size: int | None = None,
    max_batches: int = 100,
    dry_run: bool = False,
) -> PurgeCounts:
    """Delete (or, with dry_run, count) what is past its retention; returns how many rows of each kind.

    Each batch is its own short DELETE, so the purge never holds locks for long; a run stops after max_batches
    per kind and the next run carries on.
    """
    now = now or timezone.now()
    batch_size = batch_size or settings.NEXA_PURGE_BATCH_SIZE
    expired = purge_candidates(now=now)
    if dry_run:
        return PurgeCounts(**{kind: rows.count() for kind, rows in expired.items()})
    counts = PurgeCounts(
        **{kind: _delete_in_batches(rows, size=batch_size, max_batches=max_batches) for kind, rows in expired.items()}
    )
    if any(counts):
        logger.info("retention purge deleted %s", counts._asdict())
    return counts


def purge_candidates(*, now: datetime) -> dict[str, QuerySet]:
    """The rows past their retention, by kind.

    A deleted delivery's id could be accepted again, but only inside the signature's timestamp tolerance (minutes),
    and Chatwoot never re-sends a webhook (API-NOTES F.5): a retention of days loses no de-duplication.
    """
    audit_days = settings.NEXA_AUDIT_RETENTION_DAYS
    settled = WebhookDelivery.objects.filter(state__in=SETTLED_DELIVERY_STATES)
    return {
        "chatwoot_calls": _older_than(ChatwootCall.objects.all(), "created_at", days=audit_days, now=now),
        "webhook_deliveries": _older_than(settled, "received_at", days=settings.NEXA_WEBHOOK_RETENTION_DAYS, now=now),
        # django-q2's finished-task rows are the worker's own audit; failed tasks stay for inspection.
        "tasks": _older_than(Success.objects.all(), "stopped", days=audit_days, now=now),
    }


def _older_than(rows: QuerySet, field: str, *, days: int, now: datetime) -> QuerySet:
    if days <= 0:  # a retention of 0 days keeps that kind for ever
        return rows.none()
    return rows.filter(**{f"{field}__lt": now - timedelta(days=days)})


def _delete_in_batches(rows: QuerySet, *, size: int, max_batches: int) -> int:
    deleted = 0
    for _ in range(max_batches):
        pks = list(rows.order_by().values_list("pk", flat=True)[:size])
        if not pks:
            break
        # The filter is applied again: a delivery reprocessed meanwhile (now failed) is not deleted.
        count, _ = rows.filter(pk__in=pks).delete()
        deleted += count
        if len(pks) < size:
            break
    return deleted
