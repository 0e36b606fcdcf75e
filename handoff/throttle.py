"""Calls to Chatwoot wait together: a shared per-minute request budget, and a short shared pause after a 429 or
while Chatwoot is unreachable.

Chatwoot counts requests per clock minute and per IP (API-NOTES G), with Evolution and n8n on the same count. After a
429 every caller pauses briefly; then one caller's call goes through as a probe. If Chatwoot answers it, everyone
resumes; another 429 makes the pause four times longer, never past the start of the next clock minute, when the
window resets.
An outage (calls in a row unanswered, or answered 502/503/504 by the proxy in front of Chatwoot) pauses everyone the
same way, the pause growing (each time the calls in a row pile up again) to at most OUTAGE_PAUSE_CAP: one probe at a
time instead of every handoff retrying, and everyone back within a few seconds of Chatwoot's return.
Redis holds the state when REDIS_URL is set; otherwise one database row does (ChatwootThrottle).
"""

import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from handoff.models import ChatwootThrottle

WINDOW = timedelta(minutes=1)
PAUSED = "Chamadas ao Chatwoot em pausa (429 ou Chatwoot fora do ar)"
PROBING = "Sondando o Chatwoot depois de uma pausa"
PROBE_POLL = timedelta(seconds=0.1)  # how often the others look whether the probe got through
# A probe not answered within this long says nothing about the limit (a 429 comes back at once: Rack::Attack, a
# middleware, answers it before the app does, G): the next caller probes, rather than everyone waiting out a hung
# call's read timeout.
PROBE_LEASE = timedelta(seconds=1)
SHORT_PAUSE_SECONDS = 10  # a worker waits a pause this short out instead of giving its handoff back
OUTAGE_PAUSE_CAP = 4.0  # seconds: the longest pause while Chatwoot is unreachable, so its return is seen soon
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
    requests in Chatwoot's next minute."""
    limit = settings.CHATWOOT_RATE_LIMIT_PER_MINUTE
    return limit - limit // 50


def throttle_before_call() -> bool:
    """Raise ChatwootDeferred unless a request may go out now; counts it against the budget if so.

    True when this request is the probe after a pause: report an answer with throttle_probe_answered.
    """
    return _backend().take(timezone.now())


def throttle_waiting(max_wait_seconds: float) -> Callable[[], bool]:
    """For workers: wait out the budget's next minute, and short pauses, instead of giving the attempt up.

    A handoff given back waits for the next sweep, up to a minute more. Waits add up to at most `max_wait_seconds`
    per attempt, well inside the task timeout; a pause longer than SHORT_PAUSE_SECONDS is not waited out here.
    """
    waited = 0.0

    def before_call() -> bool:
        nonlocal waited
        while True:
            try:
                return throttle_before_call()
            except ChatwootDeferred as deferred:
                # Jitter, so the workers do not all wake on the same instant: up to a second for a new minute, a
                # tenth of one after a pause (a sporadic 429 must cost little).
                jitter = random.uniform(0, 1.0 if deferred.budget else 0.1)
                delay = max((deferred.until - timezone.now()).total_seconds(), 0.0) + jitter
                short = deferred.budget or delay <= SHORT_PAUSE_SECONDS
                if not short or waited + delay > max_wait_seconds:
                    raise
                time.sleep(delay)
                waited += delay

    return before_call


def throttle_pause(seconds: float | None = None, *, outage: bool = False) -> datetime:
    """After a 429, or while Chatwoot is unreachable (`outage`): every caller waits, a little longer each time the
    probe fails again (after a 429 never past the next clock minute's start, in an outage at most
    OUTAGE_PAUSE_CAP); `seconds` sets the pause outright. Returns when the pause ends."""
    return _backend().pause(timezone.now(), seconds, OUTAGE_PAUSE_CAP if outage else None)


def throttle_probe_answered(answered: bool) -> None:
    """The probe's outcome: Chatwoot answered it (neither 429 nor a gateway error), so everyone resumes; or it got
    no answer (timeout, reset, 502/503/504), which says nothing either way, so the next caller probes."""
    _backend().probe_settle(answered)


def _pause_length(current: float, cap: float | None) -> float:
    """The first pause is brief (a sporadic 429 costs little); each failed probe makes it four times longer, so a
    minute whose budget is really spent costs a few probes (after 0.25 s, 1 s, 4 s, 16 s, then the minute's end),
    and two sporadic 429s in a row cost a second more, not sixteen."""
    base = settings.CHATWOOT_PAUSE_ON_429_SECONDS
    return min(current * 4, cap or 60.0) if current else min(base, cap or base)


def _pause_end(now: datetime, seconds: float) -> datetime:
    """`seconds` from now, but never past the next clock minute, when Chatwoot's window resets (G)."""
    return min(now + timedelta(seconds=seconds), now.replace(second=0, microsecond=0) + WINDOW)


def _pause_kept(now: datetime, current: datetime | None, seconds: float | None) -> bool:
    """A pause under way is kept: calls in flight meeting it do not lengthen it, and a shorter one never cuts it."""
    if current is None or current <= now:
        return False
    return seconds is None or current >= _pause_end(now, seconds)


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
    def take(self, now: datetime) -> bool:
        """The common case is one UPDATE (no pause, no probe, budget left); anything else takes the row's lock."""
        minute = now.replace(second=0, microsecond=0)
        running = ChatwootThrottle.objects.filter(
            Q(paused_until__isnull=True) | Q(paused_until__lte=now), pk=1, pause_seconds=0
        )
        if running.filter(window_started_at=minute, window_count__lt=budget_per_minute()).update(
            window_count=F("window_count") + 1
        ):
            return False
        if running.exclude(window_started_at=minute).update(window_started_at=minute, window_count=1):
            return False
        return self._take_locked(now)

    def _take_locked(self, now: datetime) -> bool:
        with transaction.atomic():
            row = self._row()
            if row.paused_until and row.paused_until > now:
                raise ChatwootDeferred(row.paused_until, PAUSED)
            probe = bool(row.pause_seconds)
            if probe:
                if row.probe_until and row.probe_until > now:
                    raise ChatwootDeferred(min(row.probe_until, now + PROBE_POLL), PROBING)
                row.probe_until = now + PROBE_LEASE
            # Clock minutes, as Chatwoot counts them (Rack::Attack's fixed windows) and as the Redis backend does:
            # a window started mid-minute would let one Chatwoot minute see more than the budget.
            minute = now.replace(second=0, microsecond=0)
            if row.window_started_at != minute:
                row.window_started_at, row.window_count = minute, 0
            if row.window_count >= budget_per_minute():
                raise ChatwootDeferred(minute + WINDOW, "Limite de requisições por minuto atingido", True)
            row.window_count += 1
            row.save(update_fields=["window_started_at", "window_count", "probe_until"])
            return probe

    def pause(self, now: datetime, seconds: float | None, cap: float | None) -> datetime:
        with transaction.atomic():
            row = self._row()
            if _pause_kept(now, row.paused_until, seconds):
                return row.paused_until
            row.pause_seconds = seconds or _pause_length(row.pause_seconds, cap)
            row.paused_until, row.probe_until = _pause_end(now, row.pause_seconds), None
            row.save(update_fields=["pause_seconds", "paused_until", "probe_until"])
            return row.paused_until

    def probe_settle(self, answered: bool) -> None:
        fields = {"pause_seconds": 0, "probe_until": None} if answered else {"probe_until": None}
        ChatwootThrottle.objects.filter(pk=1).update(**fields)

    def _row(self) -> ChatwootThrottle:
        ChatwootThrottle.objects.get_or_create(pk=1)
        return ChatwootThrottle.objects.select_for_update().get(pk=1)


class _RedisThrottle:
    PAUSE_KEY = "nexa:chatwoot:paused_until"
    EPISODE_KEY = "nexa:chatwoot:pause_seconds"  # the last pause (429 or outage), until a probe gets through
    PROBE_KEY = "nexa:chatwoot:probe"

    def __init__(self):
        import redis

        self.redis = redis.Redis.from_url(settings.REDIS_URL)

    @_with_fallback
    def take(self, now: datetime) -> bool:
        paused, episode = self.redis.mget(self.PAUSE_KEY, self.EPISODE_KEY)
        if paused and float(paused) > now.timestamp():
            raise ChatwootDeferred(datetime.fromtimestamp(float(paused), tz=now.tzinfo), PAUSED)
        probe = bool(episode and float(episode))
        lease = int(PROBE_LEASE.total_seconds() * 1000)
        if probe and not self.redis.set(self.PROBE_KEY, now.timestamp(), nx=True, px=lease):
            raise ChatwootDeferred(now + PROBE_POLL, PROBING)
        minute = int(now.timestamp() // 60)
        key = f"nexa:chatwoot:budget:{minute}"
        count, _ = self.redis.pipeline().incr(key).expire(key, 120).execute()
        if count > budget_per_minute():
            until = datetime.fromtimestamp((minute + 1) * 60, tz=now.tzinfo)
            raise ChatwootDeferred(until, "Limite de requisições por minuto atingido", True)
        return probe

    @_with_fallback
    def pause(self, now: datetime, seconds: float | None, cap: float | None) -> datetime:
        paused, episode = self.redis.mget(self.PAUSE_KEY, self.EPISODE_KEY)
        current = datetime.fromtimestamp(float(paused), tz=now.tzinfo) if paused else None
        if _pause_kept(now, current, seconds):
            return current
        length = seconds or _pause_length(float(episode or 0), cap)
        until = _pause_end(now, length)
        ttl = max(1, int((until - now).total_seconds()) + 1)
        self.redis.pipeline().set(self.PAUSE_KEY, until.timestamp(), ex=ttl).set(
            self.EPISODE_KEY, length, ex=ttl + 120
        ).delete(self.PROBE_KEY).execute()
        return until

    @_with_fallback
    def probe_settle(self, answered: bool) -> None:
        keys = (self.EPISODE_KEY, self.PROBE_KEY) if answered else (self.PROBE_KEY,)
        self.redis.delete(*keys)
