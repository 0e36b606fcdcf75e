"""What the end-to-end and fault tests share: the real django-q2 worker, settling, exactly-once checks."""

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from django.db import connection

from handoff.models import Handoff
from handoff.services import handoffs_sweep

ROOT = Path(__file__).resolve().parent.parent


def database_url() -> str:
    """The test database, as the worker process must open it."""
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{db['NAME']}"
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    return f"postgres://{db['USER']}{password}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


class Worker:
    """qcluster in its own process group, configured for the sandbox and fast retries.

    A process group, so that a SIGKILL takes the cluster and the worker processes it forked at once.
    """

    def __init__(self, sandbox, secret_key: str, log_path: Path, **overrides: str):
        self.environment = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "CHATWOOT_", "HANDOFF_"))},
            "DJANGO_SETTINGS_MODULE": "nexa.settings.base",
            "DJANGO_SECRET_KEY": secret_key,  # django-q2 signs queued tasks with it
            "DATABASE_URL": database_url(),
            "REDIS_URL": "",
            "CHATWOOT_BASE_URL": sandbox.base_url,
            "CHATWOOT_ACCOUNT_ID": "1",
            "CHATWOOT_API_TOKEN": "sandbox-token",
            "CHATWOOT_INBOX_ID": "1",
            "CHATWOOT_READ_TIMEOUT": "1",
            "CHATWOOT_PAUSE_ON_429_SECONDS": "1",
            "HANDOFF_RETRY_BASE_SECONDS": "0.5",
            "HANDOFF_RETRY_CAP_SECONDS": "2",
            "HANDOFF_STEP_RETRY_SECONDS": "0.1",
            "HANDOFF_MAX_ATTEMPTS": "40",
            "Q_WORKERS": "3",
            "LOG_LEVEL": "WARNING",
            **overrides,
        }
        self.log_path = log_path
        self.log = log_path.open("a")
        self.process: subprocess.Popen | None = None
        self.kills = 0

    def start(self) -> "Worker":
        self.process = subprocess.Popen(
            [sys.executable, "manage.py", "qcluster"],
            cwd=ROOT,
            env=self.environment,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        return self

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill(self) -> None:
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)
        self.kills += 1

    def log_tail(self) -> str:
        if not self.log.closed:
            self.log.flush()
        return self.log_path.read_text()[-3000:]

    def stop(self) -> None:
        if self.alive():
            # The cluster stops its own workers on SIGTERM; signalling them too would make it wait for the dead.
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
        self.log.close()


def settle(expected: int, *, worker: Worker, seconds: int = 300, kill_every: float | None = None, kills: int = 0):
    """Play the scheduler (the sweep every second) until every handoff has ended; optionally SIGKILL the worker
    `kills` times, every `kill_every` seconds, restarting it each time as an operator would."""
    deadline = time.monotonic() + seconds
    next_kill = time.monotonic() + kill_every if kill_every else None
    while time.monotonic() < deadline:
        handoffs = list(Handoff.objects.all())
        if len(handoffs) == expected and all(not h.is_active for h in handoffs):
            return handoffs
        assert worker.alive(), f"the worker exited: {worker.log_tail()}"
        if next_kill and time.monotonic() >= next_kill and worker.kills < kills:
            worker.kill()
            worker.start()
            next_kill = time.monotonic() + kill_every
        handoffs_sweep()
        time.sleep(1)
    pytest.fail(f"handoffs did not settle in {seconds}s: {dict(Counter(h.state for h in handoffs))}")


def assert_exactly_once(sandbox, *, leads: int = 1, handoffs: list[Handoff] | None = None) -> dict:
    """Chatwoot holds one contact, contact_inbox, conversation and complete note per lead (with `handoffs`: each
    of them done, in exactly those conversations)."""
    rows = sandbox.state_dump()
    if handoffs is not None:
        assert Counter(h.state for h in handoffs) == {Handoff.State.DONE: leads}
        assert {h.conversation_id for h in handoffs} == {c["display_id"] for c in rows["conversations"]}
    assert len(rows["contacts"]) == leads
    assert len({contact["phone_number"] for contact in rows["contacts"]}) == leads
    assert len(rows["conversations"]) == leads
    pairs = [(row["contact_id"], row["inbox_id"]) for row in rows["contact_inboxes"]]
    assert len(pairs) == len(set(pairs)) == leads
    notes = [message for message in rows["messages"] if message["private"]]
    markers = [note["content"].rsplit("`nexa-handoff:", 1)[-1] for note in notes]
    assert len(markers) == len(set(markers))  # no part of any note posted twice
    # Every conversation holds exactly one complete note (parts 1..n of one handoff), never two handoffs' notes.
    for conversation in rows["conversations"]:
        parts = [
            marker
            for note, marker in zip(notes, markers, strict=True)
            if note["conversation_id"] == conversation["display_id"]
        ]
        handoff_ids = {part.split(":")[0] for part in parts}
        totals = {part.rsplit("/", 1)[-1].rstrip("`") for part in parts}
        assert len(handoff_ids) == 1 and len(totals) == 1 and len(parts) == int(totals.pop())
    return rows
