"""Fault tests with the real worker: SIGKILLed workers and a Chatwoot outage never lose or duplicate a handoff.

The test process plays the django-q2 scheduler (the sweep every second) and the operator who restarts a
killed worker; the sandbox plays Chatwoot, failing a share of its calls.
"""

import time
from collections import Counter

import pytest
from django.utils import timezone

from handoff.models import ChatwootCall
from handoff.services import handoffs_sweep
from handoff.services.chatwoot import OUTAGE_AFTER
from handoff.throttle import OUTAGE_PAUSE_CAP
from tests.test_handoff_e2e import trigger_payload
from tests.workers import Worker, assert_exactly_once, settle

pytestmark = pytest.mark.django_db(transaction=True)

LEADS = 200
KILLS = 3


@pytest.fixture
def worker(sandbox, settings, tmp_path):
    settings.CHATWOOT_BASE_URL = sandbox.base_url
    settings.HANDOFF_LEASE_SECONDS = 12
    process = Worker(
        sandbox,
        settings.SECRET_KEY,
        tmp_path / "qcluster.log",
        HANDOFF_MAX_ATTEMPTS="60",
        # A killed worker's handoffs are picked up by the sweep once this lease runs out; it must outlast the
        # worker's task timeout (a system check says so).
        Q_TIMEOUT="10",
        HANDOFF_LEASE_SECONDS="12",
    ).start()
    yield process
    process.stop()


def test_handoffs_survive_a_worker_killed_with_sigkill_again_and_again(api, sandbox, worker):
    sandbox.set_faults(
        rate=0.2,
        kinds=("error", "429", "reset", "timeout_after_commit", "reset_after_commit"),
        seed=5,
        slow_seconds=1.2,
    )
    for index in range(LEADS):
        assert api.post("/api/v1/handoffs/", trigger_payload(index), format="json").status_code == 202

    handoffs = settle(LEADS, worker=worker, kill_every=8, kills=KILLS)

    assert worker.kills == KILLS
    assert_exactly_once(sandbox, leads=LEADS, handoffs=handoffs)
    faults = Counter(r.outcome for r in sandbox.requests if isinstance(r.outcome, str))
    assert sum(faults.values()) > 0
    print(
        f"\nfaults: {LEADS} leads, {worker.kills} SIGKILLs → {LEADS} contacts, conversations and notes; "
        f"{sum(h.attempts for h in handoffs)} attempts; injected faults {dict(faults)}"
    )


OUTAGE_SECONDS = 10
OUTAGE_LEADS = 20


def test_a_chatwoot_outage_backs_off_calmly_and_recovers_by_itself(api, sandbox, worker, settings):
    host, port = sandbox._server.server_address[:2]
    sandbox.stop()  # Chatwoot unreachable: connections refused
    outage_started = timezone.now()
    for index in range(OUTAGE_LEADS):
        assert api.post("/api/v1/handoffs/", trigger_payload(index), format="json").status_code == 202
    deadline = time.monotonic() + OUTAGE_SECONDS
    while time.monotonic() < deadline:
        handoffs_sweep()
        time.sleep(1)
    outage_ended = timezone.now()
    during = ChatwootCall.objects.filter(created_at__gte=outage_started, created_at__lt=outage_ended).count()
    sandbox.start(host, port)

    handoffs = settle(OUTAGE_LEADS, worker=worker)

    # No storm: ten unanswered calls in a row pause everyone; after each pause probes go one at a time, and ten
    # more unanswered make a longer pause (each time the attempts in flight may have one more call out), instead
    # of every handoff retrying on its own.
    seconds = (outage_ended - outage_started).total_seconds()
    pauses, elapsed, length = 0, 0.0, float(worker.environment["CHATWOOT_PAUSE_ON_429_SECONDS"])
    while elapsed < seconds:
        pauses, elapsed, length = pauses + 1, elapsed + length, min(length * 4, OUTAGE_PAUSE_CAP)
    bound = (OUTAGE_AFTER + settings.HANDOFF_THREADS) * (pauses + 1)
    assert 0 < during <= bound
    # Back soon after Chatwoot is: the pause never grows past OUTAGE_PAUSE_CAP (the benchmark measures it).
    recovered = (max(h.finished_at for h in handoffs) - outage_ended).total_seconds()
    assert recovered < OUTAGE_PAUSE_CAP + 20
    assert_exactly_once(sandbox, leads=OUTAGE_LEADS, handoffs=handoffs)
    print(
        f"\noutage: {OUTAGE_LEADS} handoffs, {seconds:.0f} s unreachable → {during} calls during the outage "
        f"(storm bound {bound:.0f}); all done {recovered:.1f} s after Chatwoot came back"
    )
