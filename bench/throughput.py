"""Handoff throughput and cost through Nexa's real processes (gunicorn + qcluster) against the sandbox.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/nexa_tp python bench/throughput.py --latency-ms 50

For each worker count in --workers, starts gunicorn and a qcluster with that many workers, posts --handoffs
Atlas triggers to POST /api/v1/handoffs/ from 4 threads, and waits until every handoff is done. It prints
handoffs per second, the time from trigger to conversation assigned (p50/p95, queueing included), Chatwoot
calls per handoff, and CPU time per handoff in the web and worker processes (PostgreSQL's own apart).
Then the sandbox enforces Chatwoot's default rate limit (3000 requests a minute per client, API-NOTES G),
Nexa's budget is set to the same, and --limited-handoffs go through --limited-workers workers; the
throughput is shown as a fraction of the ceiling (budget ÷ calls per handoff), measured in the same run.
The database is emptied before each run: use a database of its own.
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

from bench.servers import cpu_seconds, nexa_running
from chatwoot_sandbox import Sandbox
from handoff.models import ChatwootCall, Handoff
from leads.models import Lead

CHATWOOT_RATE_LIMIT = 3000  # per minute, Chatwoot's default (API-NOTES G)
AREA_CODES = ("11", "21", "31", "41", "51", "61", "71", "81", "91", "27")  # a fresh set of phones for each run


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

    threads = [threading.Thread(target=sender, args=(range(i, count, 4),)) for i in range(4)]
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


def run_once(sandbox: Sandbox, *, workers: int, handoffs: int, run: int, budget: int) -> dict:
    """One measured run on an empty database; returns its figures."""
    Lead.objects.all().delete()
    ChatwootCall.objects.all().delete()
    sandbox.reset()
    key = APIKey.objects.create_key(name=f"bench-{run}")[1]
    with nexa_running(sandbox.base_url, budget=budget, workers=workers) as nexa:
        groups = (nexa.web.pid, nexa.worker.pid)
        before = sum(cpu_seconds(group=group) for group in groups), cpu_seconds(command="postgres")
        start = time.perf_counter()
        post_triggers(nexa.base_url, key, handoffs, run)
        wait_done(handoffs, timeout=max(120, handoffs * 2))
        elapsed = time.perf_counter() - start
        after = sum(cpu_seconds(group=group) for group in groups), cpu_seconds(command="postgres")
    latencies = sorted(
        (h.finished_at - h.created_at).total_seconds() * 1000 for h in Handoff.objects.filter(state="done")
    )
    return {
        "rate": handoffs / elapsed,
        "p50": statistics.median(latencies),
        "p95": latencies[int(len(latencies) * 0.95) - 1],
        "calls": ChatwootCall.objects.count() / handoffs,
        "cpu_nexa_ms": (after[0] - before[0]) * 1000 / handoffs,
        "cpu_postgres_ms": (after[1] - before[1]) * 1000 / handoffs,
        "rejected_429": sum(1 for r in sandbox.requests if r.outcome == 429),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--handoffs", type=int, default=200, help="0 skips the unlimited runs.")
    parser.add_argument("--workers", default="1,4", help="Comma-separated qcluster worker counts.")
    parser.add_argument("--latency-ms", type=int, default=50)
    parser.add_argument("--limited-handoffs", type=int, default=1500, help="0 skips the rate-limited run.")
    parser.add_argument("--limited-workers", type=int, default=8, help="Enough workers to outrun the budget.")
    args = parser.parse_args()

    call_command("migrate", verbosity=0)
    settings.CHATWOOT_RATE_LIMIT_PER_MINUTE = 1_000_000
    with Sandbox(token="bench-token", latency_ms=args.latency_ms).start() as sandbox:
        print(f"database: {django.db.connection.vendor}; sandbox latency {args.latency_ms} ms; gunicorn 2 workers")
        print(f"{'run':34} {'handoffs/s':>10} {'p50 ms':>8} {'p95 ms':>8} {'calls':>6} {'CPU ms/handoff':>22}")
        for run, workers in enumerate(int(w) for w in args.workers.split(",") if args.handoffs):
            figures = run_once(sandbox, workers=workers, handoffs=args.handoffs, run=run, budget=1_000_000)
            show(f"{args.handoffs} handoffs, {workers} worker(s)", figures)
        if args.limited_handoffs:
            sandbox.set_rate_limit(CHATWOOT_RATE_LIMIT)
            figures = run_once(
                sandbox,
                workers=args.limited_workers,
                handoffs=args.limited_handoffs,
                run=len(AREA_CODES) - 1,
                budget=CHATWOOT_RATE_LIMIT,
            )
            show(f"{args.limited_handoffs} handoffs, {args.limited_workers} workers, limited", figures)
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


def show(label: str, figures: dict) -> None:
    cpu = f"{figures['cpu_nexa_ms']:.0f} Nexa + {figures['cpu_postgres_ms']:.0f} PostgreSQL"
    print(
        f"{label:34} {figures['rate']:10.2f} {figures['p50']:8.0f} {figures['p95']:8.0f} "
        f"{figures['calls']:6.1f} {cpu:>22}"
    )


if __name__ == "__main__":
    main()
