"""Handoff attempts run on threads, many at once: Chatwoot calls are I/O, so a hung call holds one thread, not one of
the worker's processes, and an attempt that comes due runs within a poll of its time, not at the next sweep. The
events for subscribers (outbound) go out from the same dispatcher on threads of their own, OUTBOUND_THREADS: a slow
or dead subscriber holds those, never a handoff's thread nor a worker process that webhook tasks need.

One dispatcher runs at a time, as a django-q2 task holding a lease on one row (HandoffDispatcher). Every POLL it
hands what is claimable (handoff_process claims it) to HANDOFF_THREADS threads. A task must end inside the worker's
timeout, so after a while the dispatcher asks for its successor and keeps dispatching until the successor takes the
lease. handoff_enqueue and the sweep start one when none is running; one that vanished (its worker killed) is
replaced once its lease expires.
"""

import logging
import queue
import threading
import time
import uuid
from collections.abc import Callable
from datetime import timedelta

from django.conf import settings
from django.db import close_old_connections, connections
from django.db.models import Q
from django.utils import timezone
from django_q.tasks import async_task

from handoff.models import Handoff, HandoffDispatcher
from outbound.delivery import deliveries_due, delivery_send

TASK = "handoff.tasks.handoffs_dispatch"
POLL_SECONDS = 0.5
LEASE = timedelta(seconds=3)  # renewed every poll: a killed dispatcher is replaced by the next request this long after
STARTING = timedelta(seconds=10)  # a dispatcher asked for and not yet started is not asked for again before this
# A dispatcher asks for its successor after this long: a worker told to stop (a deploy) finishes its current task,
# and this keeps that task short, so the attempts in hand end instead of being killed mid-step.
HANDOVER_SECONDS = 15

logger = logging.getLogger(__name__)


def dispatcher_ensure() -> bool:
    """Ask for a dispatcher unless one is running or starting; True when this call asked."""
    now = timezone.now()
    # Read first: while one runs (under load, at every trigger) that is the only statement.
    alive_until = HandoffDispatcher.objects.filter(pk=1).values_list("alive_until", flat=True).first()
    if alive_until is not None and alive_until >= now:
        return False
    if not _lease_update(_expired(now), token=None, alive_until=now + STARTING):
        return False
    _task_enqueue()
    return True


def _task_enqueue() -> None:
    try:
        async_task(TASK, group="handoff")
    except Exception:
        # Asked again once the "starting" mark expires (the sweep, the next handoff); queued handoffs wait, none
        # is lost.
        logger.exception("could not enqueue the handoff dispatcher")


def handoffs_dispatch(*, run: Callable[..., object], seconds: float | None = None) -> int:
    """Run claimable handoffs through `run` (the runner's handoff_process) on HANDOFF_THREADS threads for `seconds`
    (HANDOVER_SECONDS, or a quarter of a shorter task timeout), then until the successor takes over (at most as long
    again); returns how many attempts it ran."""
    token = uuid.uuid4()
    if not _lease_take(token):
        return 0
    seconds = min(HANDOVER_SECONDS, settings.Q_CLUSTER["timeout"] / 4) if seconds is None else seconds
    handover_at = time.monotonic() + seconds
    stop_at = handover_at + seconds
    pool = _Pool(settings.HANDOFF_THREADS, lambda pk: run(handoff_id=pk), _handoffs_due)
    sender = _Pool(settings.OUTBOUND_THREADS, lambda pk: delivery_send(delivery_id=pk), deliveries_due)
    handing_over, renewed, sent = False, time.monotonic(), 0.0
    try:
        while time.monotonic() < stop_at:
            if handing_over:
                successor = _successor()
                if successor == "running":
                    break
                if successor == "missing":  # it never started: the lease is ours again, and we ask again
                    handing_over = not _lease_take_back(token)
            elif time.monotonic() - renewed >= POLL_SECONDS:  # once a poll: threads coming free wake us more often
                if not _lease_renew(token):
                    break
                renewed = time.monotonic()
            if not pool.in_hand and not sender.in_hand and not _work_left():
                break  # nothing left to wait for: the next handoff or event asks for a dispatcher again
            if not handing_over and time.monotonic() >= handover_at:
                handing_over = _successor_ask(token)
            pool.feed()
            if time.monotonic() - sent >= POLL_SECONDS:  # events once a poll, not at every handoff thread freed
                sender.feed()
                sent = time.monotonic()
            pool.wait(POLL_SECONDS)
    finally:
        pool.close()
        sender.close()
        released = not handing_over and HandoffDispatcher.objects.filter(pk=1, token=token).update(alive_until=None)
        # Queued while we were leaving: its own request found the lease still held. (An event waiting for a later
        # retry is the sweep's to wake a dispatcher for.)
        if released and (Handoff.objects.filter(state=Handoff.State.QUEUED).exists() or _deliveries_due_now()):
            dispatcher_ensure()
    return pool.ran


def _work_left() -> bool:
    """A handoff not finished, or an event due now (one due later is the sweep's to wake us for)."""
    return Handoff.objects.active().exists() or _deliveries_due_now()


def _deliveries_due_now() -> bool:
    return bool(deliveries_due(now=timezone.now(), exclude=set(), limit=1))


def _handoffs_due(*, now, exclude: set, limit: int) -> list:
    due = Handoff.objects.claimable(now).exclude(pk__in=exclude).order_by("next_attempt_at")
    return list(due.values_list("pk", flat=True)[:limit])


class _Pool:
    """Threads that each run one item (a handoff, a delivery) at a time, fed with due ids not already in hand."""

    def __init__(self, size: int, run: Callable[..., object], due: Callable[..., list]):
        self.size = size
        self.run = run
        self.due = due
        self.work: queue.Queue = queue.Queue()
        self.in_hand: set = set()
        self.lock = threading.Lock()
        self.freed = threading.Event()
        self.ran = 0
        self.threads = [threading.Thread(target=self._run, name=f"handoff-{i}", daemon=True) for i in range(size)]
        for thread in self.threads:
            thread.start()

    def feed(self) -> None:
        with self.lock:
            free, busy = self.size - len(self.in_hand), set(self.in_hand)
        if free <= 0:
            return
        for item_id in self.due(now=timezone.now(), exclude=busy, limit=free):
            with self.lock:
                self.in_hand.add(item_id)
            self.work.put(item_id)

    def wait(self, seconds: float) -> None:
        """Until the next poll, or sooner when a thread comes free."""
        self.freed.wait(seconds)
        self.freed.clear()

    def close(self) -> None:
        """Let the attempts in hand end (each is bounded by Chatwoot's timeouts), then stop the threads."""
        for _ in self.threads:
            self.work.put(None)
        for thread in self.threads:
            thread.join()

    def _run(self) -> None:
        try:
            while (item_id := self.work.get()) is not None:
                try:
                    close_old_connections()  # as django-q2 does before each task: a broken connection is replaced
                    self.run(item_id)
                except Exception:
                    logger.exception("%s: the run ended in an error", item_id)
                with self.lock:
                    self.in_hand.discard(item_id)
                    self.ran += 1
                self.freed.set()
        finally:
            connections.close_all()  # this thread's own connection


def _lease_take(token: uuid.UUID) -> bool:
    """Take the lease when it is free, expired, or held for a dispatcher that is starting (us, or one like us)."""
    now = timezone.now()
    return _lease_update(_expired(now) | Q(token__isnull=True), token=token, alive_until=now + LEASE)


def _expired(now) -> Q:
    return Q(alive_until__isnull=True) | Q(alive_until__lt=now)


def _lease_update(condition: Q, **fields) -> bool:
    """One conditional UPDATE of the lease row (created on first use)."""
    if HandoffDispatcher.objects.filter(condition, pk=1).update(**fields):
        return True
    if HandoffDispatcher.objects.filter(pk=1).exists():
        return False
    HandoffDispatcher.objects.get_or_create(pk=1)
    return bool(HandoffDispatcher.objects.filter(condition, pk=1).update(**fields))


def _lease_renew(token: uuid.UUID) -> bool:
    return bool(HandoffDispatcher.objects.filter(pk=1, token=token).update(alive_until=timezone.now() + LEASE))


def _successor_ask(token: uuid.UUID) -> bool:
    """Hand the lease to a dispatcher that is starting; this one keeps dispatching until it takes the lease."""
    if not HandoffDispatcher.objects.filter(pk=1, token=token).update(
        token=None, alive_until=timezone.now() + STARTING
    ):
        return False
    _task_enqueue()
    return True


def _successor() -> str:
    """ "running" once the successor took the lease, "starting" until then, "missing" if it never came."""
    row = HandoffDispatcher.objects.get(pk=1)
    if row.token is not None:
        return "running"
    return "starting" if row.alive_until and row.alive_until >= timezone.now() else "missing"


def _lease_take_back(token: uuid.UUID) -> bool:
    now = timezone.now()
    return _lease_update(_expired(now) & Q(token__isnull=True), token=token, alive_until=now + LEASE)
