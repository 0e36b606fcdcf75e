"""Shared by the benchmarks that run Nexa's real processes: free ports, gunicorn, qcluster, their CPU time."""

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import NamedTuple

import requests

ROOT = Path(__file__).resolve().parent.parent
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
WEB_WORKERS = 3  # what the image runs (WEB_CONCURRENCY in the Dockerfile)


def database_empty() -> None:
    """What a measured run starts from: no leads (their handoffs, transcripts and events go with them), no Chatwoot
    call or webhook delivery, no dispatcher lease a run stopped mid-way left, no task another benchmark queued."""
    from django_q.models import OrmQ

    from handoff.models import ChatwootCall, HandoffDispatcher, WebhookDelivery
    from leads.models import Lead

    for model in (Lead, HandoffDispatcher, ChatwootCall, WebhookDelivery, OrmQ):
        model.objects.all().delete()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def gunicorn_start(port: int, workers: int, environment: dict | None = None) -> subprocess.Popen:
    """gunicorn serving Nexa in its own process group (for CPU accounting), once it answers /healthz."""
    environment = {
        **os.environ,
        "DJANGO_DEBUG": "false",
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
        "LOG_LEVEL": "ERROR",
        "API_RATE_LIMIT": "1000000/minute",
        **(environment or {}),
    }
    command = [sys.executable, "-m", "gunicorn", "nexa.wsgi", "--bind", f"127.0.0.1:{port}"]
    command += [
        "--workers",
        str(workers),
        "--env",
        "DJANGO_SETTINGS_MODULE=nexa.settings.base",
        "--log-level",
        "warning",
    ]
    process = subprocess.Popen(  # noqa: S603 - our own gunicorn command line
        command, cwd=ROOT, env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    for _ in range(100):
        try:
            if requests.get(f"http://127.0.0.1:{port}/healthz", timeout=10).status_code == 200:
                return process
        except requests.RequestException:
            time.sleep(0.2)
    process_group_stop(process)
    raise SystemExit("gunicorn did not start")


def qcluster_start(environment: dict) -> subprocess.Popen:
    """The django-q2 worker cluster in its own process group."""
    return subprocess.Popen(
        [sys.executable, "manage.py", "qcluster"],
        cwd=ROOT,
        env={**os.environ, "LOG_LEVEL": "ERROR", **environment},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


class Nexa(NamedTuple):
    base_url: str
    web: subprocess.Popen
    worker: subprocess.Popen


@contextmanager
def nexa_running(
    sandbox_url: str, *, budget: int, port: int | None = None, environment: dict | None = None
) -> Iterator[Nexa]:
    """gunicorn (WEB_WORKERS, the image's WEB_CONCURRENCY) and a qcluster, with Nexa's default settings but for
    Chatwoot's (the sandbox's),
    `budget` and `environment`, on `port` (else a free one); both stopped on the way out."""
    environment = {
        "CHATWOOT_BASE_URL": sandbox_url,
        "CHATWOOT_API_TOKEN": "bench-token",
        "CHATWOOT_ACCOUNT_ID": "1",
        "CHATWOOT_INBOX_ID": "1",
        "CHATWOOT_RATE_LIMIT_PER_MINUTE": str(budget),
        **(environment or {}),
    }
    port = port or free_port()
    web = gunicorn_start(port, WEB_WORKERS, environment)
    worker = qcluster_start(environment)
    try:
        time.sleep(3)  # the cluster forks its workers
        yield Nexa(f"http://127.0.0.1:{port}", web, worker)
    finally:
        process_group_stop(worker)
        process_group_stop(web)


def memory_mb(*groups: int) -> tuple[float, float]:
    """(PSS, RSS) in MB of the processes in these process groups. PSS counts a page shared by N processes (the
    forked workers share most of theirs) as 1/N in each: their sum is what the machine, or a container, holds."""
    pss = rss = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            if int(stat[stat.rindex(")") + 2 :].split()[2]) not in groups:
                continue
            for line in (entry / "smaps_rollup").read_text().splitlines():
                if line.startswith(("Pss:", "Rss:")):
                    kilobytes = int(line.split()[1])
                    pss, rss = (pss + kilobytes, rss) if line.startswith("Pss:") else (pss, rss + kilobytes)
        except (OSError, ValueError):
            continue  # the process ended while we looked
    return pss / 1024, rss / 1024


def process_group_stop(process: subprocess.Popen) -> None:
    """SIGTERM, a while to stop, then SIGKILL for whatever of the group is left (a cluster's forked processes)."""
    with suppress(ProcessLookupError, subprocess.TimeoutExpired):
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)
    with suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)


def cpu_seconds(*, group: int | None = None, command: str | None = None) -> float:
    """User + system CPU of the processes in a process group, or named `command` (e.g. postgres).

    Each process's reaped children count too (cutime, cstime): PostgreSQL's ended backends, gunicorn's
    replaced workers.
    """
    total = 0.0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            name, fields = _stat(int(entry.name))
        except OSError:
            continue  # the process ended while we looked
        if (group is not None and int(fields[2]) == group) or (command is not None and name == command):
            total += _cpu(fields)
    return total


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU of one process (its reaped children's too, as cpu_seconds counts them)."""
    return _cpu(_stat(pid)[1])


def _stat(pid: int) -> tuple[str, list[str]]:
    """The command name and the fields after it in /proc/PID/stat (the name may hold spaces and parentheses)."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    return stat[stat.index("(") + 1 : stat.rindex(")")], stat[stat.rindex(")") + 2 :].split()


def _cpu(fields: list[str]) -> float:
    return sum(int(value) for value in fields[11:15]) / CLOCK_TICKS  # utime, stime, cutime, cstime
