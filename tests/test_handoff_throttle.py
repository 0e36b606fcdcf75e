"""The shared 429 pause and request budget, on the database and on Redis; and what a queued task carries."""

from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from handoff import throttle
from handoff.models import ChatwootThrottle

pytestmark = pytest.mark.django_db


@pytest.fixture(params=["database", "redis"])
def backend(request, settings):
    if request.param == "redis":
        import redis

        settings.REDIS_URL = "redis://127.0.0.1:6379/15"
        client = redis.Redis.from_url(settings.REDIS_URL)
        try:
            client.flushdb()
        except redis.ConnectionError:
            pytest.skip("needs Redis on 127.0.0.1:6379 (.ci/run starts it)")
        yield request.param
        client.flushdb()
    else:
        settings.REDIS_URL = ""
        yield request.param


def test_the_budget_defers_calls_past_the_limit_until_the_next_minute(backend, settings):
    settings.CHATWOOT_RATE_LIMIT_PER_MINUTE = 3
    for _ in range(3):
        throttle.throttle_before_call()
    with pytest.raises(throttle.ChatwootDeferred) as deferred:
        throttle.throttle_before_call()
    assert timezone.now() < deferred.value.until <= timezone.now() + timedelta(seconds=61)


def test_a_pause_stops_every_call_until_it_ends(backend):
    until = throttle.throttle_pause(30)
    with pytest.raises(throttle.ChatwootDeferred) as deferred:
        throttle.throttle_before_call()
    assert abs((deferred.value.until - until).total_seconds()) < 1


def test_a_shorter_pause_never_shortens_a_longer_one(backend):
    longer = throttle.throttle_pause(60)
    throttle.throttle_pause(5)
    with pytest.raises(throttle.ChatwootDeferred) as deferred:
        throttle.throttle_before_call()
    assert abs((deferred.value.until - longer).total_seconds()) < 1


def test_the_database_budget_restarts_each_window(settings):
    settings.REDIS_URL, settings.CHATWOOT_RATE_LIMIT_PER_MINUTE = "", 1
    throttle.throttle_before_call()
    ChatwootThrottle.objects.update(window_started_at=timezone.now() - timedelta(seconds=61))
    throttle.throttle_before_call()  # a new window: allowed again
    assert ChatwootThrottle.objects.get().window_count == 1


@pytest.fixture
def clock(monkeypatch):
    """Time that moves only when a worker sleeps: 12:00:30, half a minute before the next budget window."""
    now = [datetime(2026, 11, 30, 12, 0, 30, tzinfo=UTC)]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += timedelta(seconds=seconds)

    monkeypatch.setattr(throttle.timezone, "now", lambda: now[0])
    monkeypatch.setattr(throttle.time, "sleep", sleep)
    return slept


def test_calls_go_out_again_once_the_pause_ends(backend, clock):
    throttle.throttle_pause(30)
    with pytest.raises(throttle.ChatwootDeferred):
        throttle.throttle_before_call()
    throttle.time.sleep(29)  # the clock moves: still paused
    with pytest.raises(throttle.ChatwootDeferred):
        throttle.throttle_before_call()
    throttle.time.sleep(2)
    throttle.throttle_before_call()


def test_budget_windows_are_clock_minutes_as_chatwoot_counts_them(settings, clock):
    settings.REDIS_URL, settings.CHATWOOT_RATE_LIMIT_PER_MINUTE = "", 1
    throttle.throttle_before_call()
    with pytest.raises(throttle.ChatwootDeferred) as deferred:
        throttle.throttle_before_call()
    assert deferred.value.until == datetime(2026, 11, 30, 12, 1, tzinfo=UTC)


def test_a_worker_waits_for_the_next_minute_instead_of_giving_its_handoff_back(backend, settings, clock):
    settings.CHATWOOT_RATE_LIMIT_PER_MINUTE = 1
    before_call = throttle.throttle_waiting(90)
    before_call()
    before_call()  # the budget is spent until 12:01: the worker sleeps through it, then goes on
    assert len(clock) == 1 and 30 <= clock[0] <= 31


def test_a_worker_gives_up_waiting_past_its_budget_of_time(backend, settings, clock):
    settings.CHATWOOT_RATE_LIMIT_PER_MINUTE = 1
    before_call = throttle.throttle_waiting(10)
    before_call()
    with pytest.raises(throttle.ChatwootDeferred):
        before_call()
    assert clock == []


def test_a_worker_does_not_wait_out_a_pause_chatwoot_asked_for(settings, clock):
    settings.REDIS_URL = ""
    throttle.throttle_pause(60)
    with pytest.raises(throttle.ChatwootDeferred):
        throttle.throttle_waiting(90)()
    assert clock == []


@pytest.mark.parametrize(("limit", "budget"), [(3000, 2940), (300, 294), (49, 49), (1, 1)])
def test_the_budget_keeps_two_percent_under_chatwoots_limit(settings, limit, budget):
    settings.CHATWOOT_RATE_LIMIT_PER_MINUTE = limit
    assert throttle.budget_per_minute() == budget


# After a 429 (API-NOTES G: a fixed window per clock minute): a brief pause, then one probe call.


def test_after_a_429_everyone_pauses_briefly_then_one_probe_goes_through(backend, settings, clock):
    settings.CHATWOOT_PAUSE_ON_429_SECONDS = 2
    until = throttle.throttle_pause()
    assert until == datetime(2026, 11, 30, 12, 0, 32, tzinfo=UTC)
    with pytest.raises(throttle.ChatwootDeferred):
        throttle.throttle_before_call()
    throttle.time.sleep(2)
    assert throttle.throttle_before_call() is True  # the probe
    with pytest.raises(throttle.ChatwootDeferred) as others:
        throttle.throttle_before_call()  # everyone else waits for its outcome
    assert others.value.why == throttle.PROBING


def test_when_the_probe_is_answered_everyone_resumes(backend, settings, clock):
    settings.CHATWOOT_PAUSE_ON_429_SECONDS = 2
    throttle.throttle_pause()
    throttle.time.sleep(2)
    assert throttle.throttle_before_call() is True
    throttle.throttle_probe_answered(True)
    assert [throttle.throttle_before_call() for _ in range(3)] == [False, False, False]


def test_a_probe_without_an_answer_lets_the_next_caller_probe(backend, settings, clock):
    settings.CHATWOOT_PAUSE_ON_429_SECONDS = 2
    throttle.throttle_pause()
    throttle.time.sleep(2)
    assert throttle.throttle_before_call() is True
    throttle.throttle_probe_answered(False)  # a timeout: Chatwoot said nothing about its limit
    assert throttle.throttle_before_call() is True


def test_a_probe_that_hangs_lets_the_next_caller_probe_a_second_later(settings, clock):
    """Nobody waits out a hung probe's read timeout: a 429 would have come back at once."""
    settings.REDIS_URL = ""
    settings.CHATWOOT_PAUSE_ON_429_SECONDS = 2
    throttle.throttle_pause()
    throttle.time.sleep(2)
    assert throttle.throttle_before_call() is True  # the probe; its answer does not come
    with pytest.raises(throttle.ChatwootDeferred):
        throttle.throttle_before_call()
    throttle.time.sleep(throttle.PROBE_LEASE.total_seconds())
    assert throttle.throttle_before_call() is True


def test_on_redis_the_probe_holds_its_turn_for_a_second(backend, settings):
    if backend != "redis":
        pytest.skip("the Redis key's own expiry")
    import redis

    throttle.throttle_pause(0.001)
    throttle.time.sleep(0.01)
    assert throttle.throttle_before_call() is True
    ttl = redis.Redis.from_url(settings.REDIS_URL).pttl(throttle._RedisThrottle.PROBE_KEY)
    assert 0 < ttl <= throttle.PROBE_LEASE.total_seconds() * 1000


def test_an_outage_pause_grows_each_time_but_stays_short(backend, settings, clock):
    settings.CHATWOOT_PAUSE_ON_429_SECONDS = 0.5
    lengths = []
    for _ in range(5):
        start = throttle.timezone.now()
        until = throttle.throttle_pause(outage=True)  # the outage, then each time the failures pile up again
        lengths.append((until - start).total_seconds())
        throttle.time.sleep(lengths[-1])
        assert throttle.throttle_before_call() is True
    assert lengths == [0.5, 2, 4, 4, 4]  # Chatwoot's return is seen within OUTAGE_PAUSE_CAP


def test_each_429_to_a_probe_lengthens_the_pause_but_never_past_the_next_minute(backend, settings, clock):
    settings.CHATWOOT_PAUSE_ON_429_SECONDS = 0.5
    throttle.time.sleep(20)  # 12:00:50
    lengths = []
    for _ in range(3):
        start = throttle.timezone.now()
        until = throttle.throttle_pause()  # the first 429, then the probe's
        lengths.append((until - start).total_seconds())
        throttle.time.sleep(lengths[-1])
        assert throttle.throttle_before_call() is True
    # 0.5 s, 2 s, then 8 s would end past 12:01:00: capped there, when Chatwoot's window resets.
    assert lengths == [0.5, 2, 7.5]
    assert throttle.timezone.now() == datetime(2026, 11, 30, 12, 1, tzinfo=UTC)


def test_a_minute_whose_budget_is_really_spent_costs_a_handful_of_probes(backend, settings, clock):
    settings.CHATWOOT_PAUSE_ON_429_SECONDS = 0.25
    throttle.time.sleep(-30)  # 12:00:00: the worst case, the budget spent as the minute begins
    probes = 0
    while throttle.timezone.now() < datetime(2026, 11, 30, 12, 1, tzinfo=UTC):
        until = throttle.throttle_pause()  # the 429, then each probe's
        throttle.time.sleep((until - throttle.timezone.now()).total_seconds())
        assert throttle.throttle_before_call() is True
        probes += 1
    # After 0.25 s, 1 s, 4 s and 16 s: four more 429s in the spent minute; the fifth probe opens the next one.
    assert probes == 5


def test_calls_in_flight_meeting_the_same_429_do_not_lengthen_the_pause(backend, settings, clock):
    settings.CHATWOOT_PAUSE_ON_429_SECONDS = 2
    first = throttle.throttle_pause()
    assert [throttle.throttle_pause() for _ in range(3)] == [first] * 3
