"""Handoff throughput and cost through Nexa's real processes (gunicorn + qcluster) against the sandbox.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/nexa_tp python bench/throughput.py

Each run starts gunicorn (3 workers, as the image does) and a qcluster with Nexa's default settings, the sandbox
answering after --latency-ms and posting its webhooks back to Nexa, signed, as Chatwoot does: what each handoff causes
Nexa to receive and process counts in its cost. It posts --handoffs Atlas triggers to POST /api/v1/handoffs/ from 8
threads and waits until every handoff is done and every webhook processed. It prints handoffs per second (first post
to last handoff done), the time from trigger to done (p50/p95, queueing included), Chatwoot calls and webhooks per
handoff, CPU per handoff (web + worker processes, PostgreSQL apart, webhooks included; then this process's own: the
sandbox and the clients, which share the machine), and the peak memory of web + worker (PSS: the sum a machine or a
container holds; RSS: shared pages counted in every process).
The baseline, measured in the same run: HANDOFF_THREADS=1, one attempt at a time (as one worker process ran them).
Then the sandbox enforces Chatwoot's default rate limit (3000 requests a minute per client, API-NOTES G), Nexa's
budget is set to the same, and --limited-handoffs go through; the throughput is shown as a fraction of the ceiling
(budget ÷ calls per handoff). The database is emptied before each run: use a database of its own.
"""

import argparse
import os
import statistics
import sys
import threading
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "nexa.settings.base")
os.environ["LOG_LEVEL"] = "ERROR"

import django

django.setup()

import requests
from django.conf import settings
from django.core.management import call_command
from rest_framework_api_key.models import APIKey

from bench.servers import cpu_seconds, database_empty, free_port, memory_mb, nexa_running
from chatwoot_sandbox import Sandbox
from handoff.events import HANDLERS
from handoff.models import ChatwootCall, Handoff, WebhookDelivery

CHATWOOT_RATE_LIMIT = 3000  # per minute, Chatwoot's default (API-NOTES G)
AREA_CODES = ("11", "21", "31", "41", "51", "61", "71", "81", "91", "27")  # a fresh set of phones for each run
WEBHOOK_SECRET = "bench-webhook-secret"  # the sandbox signs with it, Nexa verifies
SENDERS = 8


def trigger(index: int, run: int) -> dict:
    return {
        "id": f"atlas-bench-{run}-{index}",
        "name": f"Lead {index}",
        "phone": f"+55 {AREA_CODES[run % len(AREA_CODES)]} 9{70_000_000 + index}",
        "interest": "Energia solar residencial",
        "qualification_score": 9,
        "bot_history": "Lead: Oi, quero um orçamento\nBot: Olá! Qual o valor da sua conta?\nLead: Uns R$ 600",
    }


def post_triggers(base: str, key: str, count: int, run: int) -> None:
    refused: list[str] = []

    def sender(indexes):
        session = requests.Session()
        session.headers["Authorization"] = f"Bearer {key}"
        for index in indexes:
            response = session.post(f"{base}/api/v1/handoffs/", json=trigger(index, run), timeout=30)
            if response.status_code != 202:
                refused.append(f"{response.status_code} {response.text[:200]}")

    threads = [threading.Thread(target=sender, args=(range(i, count, SENDERS),)) for i in range(SENDERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if refused:
        raise SystemExit(f"{len(refused)} triggers refused, e.g. {refused[0]}")


def wait_done(count: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while Handoff.objects.filter(state=Handoff.State.DONE).count() < count:
        if time.monotonic() > deadline:
            raise SystemExit(f"only {Handoff.objects.filter(state='done').count()} of {count} done in {timeout:.0f}s")
        time.sleep(0.2)


def webhooks_settled(sandbox: Sandbox, timeout: float) -> None:
    """Every webhook the handoffs caused has been posted, and processed by the worker."""
    if sandbox.webhooks is None:
        return
    sandbox.webhooks.wait(timeout)
    deadline = time.monotonic() + timeout
    while WebhookDelivery.objects.filter(state=WebhookDelivery.State.RECEIVED).exists():
        if time.monotonic() > deadline:
            raise SystemExit("webhooks still unprocessed")
        time.sleep(0.2)


class MemoryPeak(threading.Thread):
    """The largest web + worker memory seen, sampled every second."""

    def __init__(self, *groups: int):
        super().__init__(daemon=True)
        self.groups, self.pss, self.rss, self.done = groups, 0.0, 0.0, threading.Event()

    def run(self) -> None:
        while not self.done.wait(1):
            pss, rss = memory_mb(*self.groups)
            self.pss, self.rss = max(self.pss, pss), max(self.rss, rss)


def run_once(sandbox: Sandbox, *, port: int, handoffs: int, run: int, budget: int, environment: dict) -> dict:
    """One measured run on an empty database; returns its figures."""
    database_empty()
    sandbox.reset()
    key = APIKey.objects.create_key(name=f"bench-{run}")[1]
    environment = {"CHATWOOT_WEBHOOK_SECRETS": WEBHOOK_SECRET, **environment}
    with nexa_running(sandbox.base_url, budget=budget, port=port, environment=environment) as nexa:
        groups = (nexa.web.pid, nexa.worker.pid)
        memory = MemoryPeak(*groups)
        memory.start()
        before = [cpu_seconds(group=group) for group in groups] + [cpu_seconds(command="postgres"), time.process_time()]
        start = time.perf_counter()
        post_triggers(nexa.base_url, key, handoffs, run)
        wait_done(handoffs, timeout=max(120, handoffs * 2))
        elapsed = time.perf_counter() - start
        webhooks_settled(sandbox, timeout=max(60, handoffs))
        after = [cpu_seconds(group=group) for group in groups] + [cpu_seconds(command="postgres"), time.process_time()]
        memory.done.set()
    latencies = sorted(
        (h.finished_at - h.created_at).total_seconds() * 1000 for h in Handoff.objects.filter(state="done")
    )
    return {
        "rate": handoffs / elapsed,
        "p50": statistics.median(latencies),
        "p95": latencies[int(len(latencies) * 0.95) - 1],
        "calls": ChatwootCall.objects.count() / handoffs,
        "webhooks": WebhookDelivery.objects.count() / handoffs,
        "cpu_web_ms": (after[0] - before[0]) * 1000 / handoffs,
        "cpu_worker_ms": (after[1] - before[1]) * 1000 / handoffs,
        "cpu_postgres_ms": (after[2] - before[2]) * 1000 / handoffs,
        "cpu_bench_ms": (after[3] - before[3]) * 1000 / handoffs,  # this process: the sandbox and the clients
        "pss": memory.pss,
        "rss": memory.rss,
        "rejected_429": sum(1 for r in sandbox.requests if r.outcome == 429),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--handoffs", type=int, default=400, help="0 skips the unlimited runs.")
    parser.add_argument("--latency-ms", type=int, default=50)
    parser.add_argument("--limited-handoffs", type=int, default=1500, help="0 skips the rate-limited run.")
    parser.add_argument("--without-webhooks", action="store_true", help="The handoffs' cost alone.")
    parser.add_argument("--without-baseline", action="store_true", help="Only the default settings' run.")
    args = parser.parse_args()

    call_command("migrate", verbosity=0)
    settings.CHATWOOT_RATE_LIMIT_PER_MINUTE = 1_000_000
    port = free_port()
    webhooks = None if args.without_webhooks else f"http://127.0.0.1:{port}/api/v1/webhooks/chatwoot/"
    sandbox = Sandbox(
        token="bench-token",
        latency_ms=args.latency_ms,
        webhook_url=webhooks,
        webhook_secret=WEBHOOK_SECRET,
        webhook_events=list(HANDLERS),  # the events the README subscribes Nexa's webhook to
    )
    with sandbox.start():
        print(
            f"database: {django.db.connection.vendor}; sandbox latency {args.latency_ms} ms; "
            f"webhooks {'off' if args.without_webhooks else 'on'}"
        )
        print(
            f"{'run':36} {'handoffs/s':>10} {'p50 ms':>8} {'p95 ms':>8} {'calls':>6} {'hooks':>6} "
            f"{'CPU ms/handoff':>32} {'PSS/RSS MB':>12}"
        )
        baseline, baseline_run = None, ("baseline: 1 thread", {"HANDOFF_THREADS": "1"})
        runs = ([] if args.without_baseline else [baseline_run]) + [("default settings", {})]
        runs = runs if args.handoffs else []
        for run, (label, environment) in enumerate(runs):
            figures = run_once(
                sandbox, port=port, handoffs=args.handoffs, run=run, budget=1_000_000, environment=environment
            )
            if (label, environment) == baseline_run:
                baseline = figures["rate"]
            show(f"{args.handoffs} handoffs, {label}", figures, baseline)
        if args.limited_handoffs:
            sandbox.set_rate_limit(CHATWOOT_RATE_LIMIT)
            figures = run_once(
                sandbox,
                port=port,
                handoffs=args.limited_handoffs,
                run=len(AREA_CODES) - 1,
                budget=CHATWOOT_RATE_LIMIT,
                environment={},
            )
            show(f"{args.limited_handoffs} handoffs, limited", figures, baseline)
            report_budget_use(figures)


def report_budget_use(figures: dict) -> None:
    """The budget counts clock minutes, so a short run can straddle two: compare whole minutes only."""
    calls = Counter(
        at.replace(second=0, microsecond=0) for at in ChatwootCall.objects.values_list("created_at", flat=True)
    )
    done = Counter(at.replace(second=0, microsecond=0) for at in Handoff.objects.values_list("finished_at", flat=True))
    first, last = min(calls), max(calls)
    count = int((last - first).total_seconds() // 60) - 1  # the first and the last minute of the run are partial
    minutes = [first + timedelta(minutes=n + 1) for n in range(count)]
    if not minutes:
        print("the run covered no whole clock minute: raise --limited-handoffs")
        return
    per_minute = statistics.mean(calls[minute] for minute in minutes)
    handoffs = statistics.mean(done[minute] for minute in minutes)
    ceiling = CHATWOOT_RATE_LIMIT / figures["calls"]
    print(
        f"whole minutes ({len(minutes)}): {per_minute:.0f} calls/min = {per_minute / CHATWOOT_RATE_LIMIT:.0%} of the "
        f"{CHATWOOT_RATE_LIMIT}/min budget; {handoffs:.0f} handoffs/min = {handoffs / ceiling:.0%} of the ceiling "
        f"(budget ÷ {figures['calls']:.1f} calls = {ceiling:.0f}/min); "
        f"Chatwoot answered 429 {figures['rejected_429']} times"
    )


def show(label: str, figures: dict, baseline: float | None) -> None:
    web, worker, postgres, sandbox = (
        figures[key] for key in ("cpu_web_ms", "cpu_worker_ms", "cpu_postgres_ms", "cpu_bench_ms")
    )
    cpu = f"{web:.0f}+{worker:.0f} Nexa + {postgres:.0f} PG ({sandbox:.0f} sandbox)"
    ratio = f"  {figures['rate'] / baseline:.1f}× baseline" if baseline else ""
    print(
        f"{label:36} {figures['rate']:10.2f} {figures['p50']:8.0f} {figures['p95']:8.0f} {figures['calls']:6.1f} "
        f"{figures['webhooks']:6.1f} {cpu:>32} {figures['pss']:5.0f}/{figures['rss']:<6.0f}{ratio}"
    )


if __name__ == "__main__":
    main()
