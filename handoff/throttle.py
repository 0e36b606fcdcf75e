"""Calls to Chatwoot wait together: a shared pause after a 429 and a per-minute request budget.

Redis holds both when REDIS_URL is set; otherwise one database row does (ChatwootThrottle).
"""

import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from handoff.models import ChatwootThrottle

WINDOW = timedelta(minutes=1)
PAUSED_429 = "Chatwoot pediu uma pausa (429)"
logger = logging.getLogger(__name__)


@dataclass
class ChatwootDeferred(Exception):
    """Not now: Chatwoot asked everyone to wait, or this minute's budget is spent. Not a failure."""

    until: datetime
    why: str
    budget: bool = False  # this minute's budget is spent (rather than a pause Chatwoot asked for)

    def __str__(self) -> str:
        return f"{self.why} até {timezone.localtime(self.until):%H:%M:%S}"


def budget_per_minute() -> int:
    """Chatwoot's limit less 2%: calls in flight at the turn of a minute, and the two hosts' clocks, land a few
    requests in Chatwoot's next minute, and one 429 stops every worker for CHATWOOT_PAUSE_ON_429_SECONDS."""
    limit = settings.CHATWOOT_RATE_LIMIT_PER_MINUTE
    return limit - limit // 50


def throttle_before_call() -> None:
    """Raise ChatwootDeferred unless a request may go out now; counts it against the budget if so."""
    _backend().take(timezone.now())


def throttle_waiting(max_wait_seconds: float) -> Callable[[], None]:
    """For workers: wait for the budget's next minute instead of giving up the attempt.

    At full load the budget is what limits throughput, and a handoff given back waits for the next sweep, up to
    a minute more. Waits add up to at most `max_wait_seconds` per attempt, well inside the task timeout. A pause
    after a 429 is not waited out here: it is longer, and the workers are needed for webhooks meanwhile.
    """
    waited = 0.0

    def before_call() -> None:
        nonlocal waited
        while True:
            try:
                return throttle_before_call()
            except ChatwootDeferred as deferred:
                # Up to a second of jitter, so the workers do not all wake on the same instant.
                delay = max((deferred.until - timezone.now()).total_seconds(), 0.0) + random.uniform(0, 1)
                if not deferred.budget or waited + delay > max_wait_seconds:
                    raise
                time.sleep(delay)
                waited += delay

    return before_call


def throttle_pause(seconds: float | None = None) -> datetime:
    """Every worker stops calling Chatwoot for a while (after a 429)."""
    until = timezone.now() + timedelta(seconds=seconds or settings.CHATWOOT_PAUSE_ON_429_SECONDS)
    _backend().pause(until)
    return until


def _backend():
    return _RedisThrottle() if settings.REDIS_URL else _DatabaseThrottle()


def _with_fallback(method):
    """Redis down must not fail handoffs: the database row takes over (and logs that it did)."""

    def run(self, *args):
        import redis

        try:
            return method(self, *args)
        except redis.RedisError:
            logger.warning("Redis unreachable: the Chatwoot throttle uses the database")
            return getattr(_DatabaseThrottle(), method.__name__)(*args)

    return run


class _DatabaseThrottle:
    def take(self, now: datetime) -> None:
        with transaction.atomic():
            row = self._row()
            if row.paused_until and row.paused_until > now:
                raise ChatwootDeferred(row.paused_until, PAUSED_429)
            # Clock minutes, as Chatwoot counts them (Rack::Attack's fixed windows) and as the Redis backend does:
            # a window started mid-minute would let one Chatwoot minute see more than the budget.
            minute = now.replace(second=0, microsecond=0)
            if row.window_started_at != minute:
                row.window_started_at, row.window_count = minute, 0
            if row.window_count >= budget_per_minute():
                raise ChatwootDeferred(minute + WINDOW, "Limite de requisições por minuto atingido", True)
            row.window_count += 1
            row.save(update_fields=["window_started_at", "window_count"])

    def pause(self, until: datetime) -> None:
        with transaction.atomic():
            row = self._row()
            if row.paused_until is None or row.paused_until < until:
                row.paused_until = until
                row.save(update_fields=["paused_until"])

    def _row(self) -> ChatwootThrottle:
        ChatwootThrottle.objects.get_or_create(pk=1)
        return ChatwootThrottle.objects.select_for_update().get(pk=1)


class _RedisThrottle:
    PAUSE_KEY = "nexa:chatwoot:paused_until"

    def __init__(self):
        import redis

        self.redis = redis.Redis.from_url(settings.REDIS_URL)

    @_with_fallback
    def take(self, now: datetime) -> None:
        paused = self.redis.get(self.PAUSE_KEY)
        if paused and float(paused) > now.timestamp():
            raise ChatwootDeferred(datetime.fromtimestamp(float(paused), tz=now.tzinfo), PAUSED_429)
        minute = int(now.timestamp() // 60)
        key = f"nexa:chatwoot:budget:{minute}"
        count, _ = self.redis.pipeline().incr(key).expire(key, 120).execute()
        if count > budget_per_minute():
            until = datetime.fromtimestamp((minute + 1) * 60, tz=now.tzinfo)
            raise ChatwootDeferred(until, "Limite de requisições por minuto atingido", True)

    @_with_fallback
    def pause(self, until: datetime) -> None:
        ttl = max(1, int((until - timezone.now()).total_seconds()) + 1)
        current = self.redis.get(self.PAUSE_KEY)
        if current is None or float(current) < until.timestamp():
            self.redis.set(self.PAUSE_KEY, until.timestamp(), ex=ttl)
