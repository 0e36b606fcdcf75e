"""The real django-q2 worker for end-to-end and fault tests: `manage.py qcluster` against the sandbox."""

import os
import signal
import subprocess
import sys
from pathlib import Path

from django.db import connection

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
