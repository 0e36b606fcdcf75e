"""Handoffs while Chatwoot misbehaves, through Nexa's real processes (gunicorn + qcluster) against the sandbox.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/nexa_faults python bench/faults.py --scenarios clean,faults

Each scenario starts gunicorn and a qcluster with the default settings, posts --leads lead upserts (seeded scores from
1 to 10; those at the threshold or above are handed off) from 8 clients, and follows the handoffs until every
qualified lead is handed off or --max-seconds pass. It prints the handed-off count every 10 s, the time from the
post to the handoff's end (p50/p95), Chatwoot calls (and as a multiple of the clean run's), 429s received, and the
duplicates in Chatwoot (contacts, contact_inboxes, conversations or note parts twice: must be 0).

Scenarios: clean (no faults); faults (30% of calls fail: 500, 502, 503, reset, or a hang past the read timeout after
Chatwoot did the work); faults429 (the same with 429 among them); outage (Chatwoot unreachable for --outage-seconds
mid-run); budget (the sandbox's rate limit at --rate-limit per minute, Nexa's budget the same).
The database is emptied before each scenario: use a database of its own.
"""

import argparse
import os
import random
import statistics
import sys
import threading
import time
from collections import Counter
from datetime import UTC, datetime
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

from bench.servers import database_empty, nexa_running
from chatwoot_sandbox import Sandbox
from handoff.models import ChatwootCall, Handoff

FAULTS = ("error", "reset", "timeout_after_commit")  # error: 500/502/503 (chatwoot_sandbox/faults.py)
CLIENTS = 8


def leads_post(base: str, key: str, count: int) -> None:
    rng = random.Random(7)  # the same leads, and scores, in every scenario: 70% of them qualified (141 of 200)
    qualified = int(count * 0.705)
    scores = [rng.randint(7, 10) for _ in range(qualified)] + [rng.randint(1, 6) for _ in range(count - qualified)]
    rng.shuffle(scores)

    def client(indexes):
        session = requests.Session()
        session.headers["Authorization"] = f"Bearer {key}"
        for index in indexes:
            lead = {"phone": f"+55 11 97{index:07d}", "name": f"Lead {index}", "qualification_score": scores[index]}
            session.post(f"{base}/api/v1/leads/", json=lead, timeout=60).raise_for_status()

    threads = [threading.Thread(target=client, args=(range(i, count, CLIENTS),)) for i in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def follow(qualified: int, started: float, max_seconds: float, sandbox: Sandbox, outage: float) -> tuple[list, float]:
    """Handed-off counts every 10 s until every qualified lead is done or time runs out; and when Chatwoot came back
    (wall clock) after an outage."""
    lines, next_line, returned = [], started + 10, None
    while True:
        done = Handoff.objects.filter(state=Handoff.State.DONE).count()
        now = time.monotonic()
        if outage > 0 and returned is None and now >= started + outage:
            sandbox.start(*sandbox.stopped_at)
            returned = time.time()
            lines.append(f"  {now - started:5.0f} s: Chatwoot back")
        if now >= next_line:
            lines.append(f"  {now - started:5.0f} s: {done}/{qualified} handed off")
            next_line += 10
        if done >= qualified or now - started > max_seconds:
            return lines, returned
        time.sleep(0.5)


def duplicates(sandbox: Sandbox) -> int:
    rows = sandbox.state_dump()
    phones = Counter(contact["phone_number"] for contact in rows["contacts"])
    pairs = Counter((row["contact_id"], row["inbox_id"]) for row in rows["contact_inboxes"])
    per_contact = Counter(row["contact_id"] for row in rows["conversations"])
    notes = Counter(m["content"] for m in rows["messages"] if m["private"] and "nexa-handoff:" in m["content"])
    return sum(n - 1 for counter in (phones, pairs, per_contact, notes) for n in counter.values() if n > 1)


def scenario_run(name: str, sandbox: Sandbox, args, seed: int) -> dict:
    database_empty()
    sandbox.reset()
    sandbox.set_faults()
    sandbox.set_rate_limit(None)
    budget = 1_000_000
    if name in ("faults", "faults429"):
        kinds = (*FAULTS, "429") if name == "faults429" else FAULTS
        sandbox.set_faults(rate=0.3, kinds=kinds, seed=seed, slow_seconds=settings.CHATWOOT_READ_TIMEOUT + 2)
    if name == "budget":
        sandbox.set_rate_limit(args.rate_limit)
        budget = args.rate_limit
    key = APIKey.objects.create_key(name=f"bench-faults-{seed}")[1]
    with nexa_running(sandbox.base_url, budget=budget) as nexa:
        started = time.monotonic()
        if name == "outage":
            sandbox.stopped_at = sandbox._server.server_address[:2]
            sandbox.stop()
        leads_post(nexa.base_url, key, args.leads)
        posted = time.time()
        qualified = Handoff.objects.count()
        outage = args.outage_seconds if name == "outage" else 0
        lines, returned = follow(qualified, started, args.max_seconds, sandbox, outage)
    return figures(name, sandbox, qualified, lines, posted, returned, args.rate_limit)


def figures(name, sandbox: Sandbox, qualified: int, lines: list[str], posted: float, returned, limit: int) -> dict:
    done = Handoff.objects.filter(state=Handoff.State.DONE)
    seconds = sorted((h.finished_at - h.created_at).total_seconds() for h in done)
    last = max((h.finished_at.timestamp() for h in done), default=None)
    return {
        "name": name,
        "qualified": qualified,
        "done": len(seconds),
        "p50": statistics.median(seconds) if seconds else None,
        "p95": seconds[max(int(len(seconds) * 0.95) - 1, 0)] if seconds else None,
        "after_last_post": last - posted if last else None,
        "after_return": last - returned if last and returned else None,
        "during_outage": ChatwootCall.objects.filter(created_at__lt=datetime.fromtimestamp(returned, UTC)).count()
        if returned
        else None,
        "calls": ChatwootCall.objects.count(),
        "rejected_429": sum(1 for r in sandbox.requests if r.outcome in (429, "429")),
        "minutes": budget_minutes(sandbox, limit) if name == "budget" else None,
        "duplicates": duplicates(sandbox),
        "lines": lines,
    }


def budget_minutes(sandbox: Sandbox, limit: int) -> str:
    """Calls Chatwoot answered, and 429s, per whole clock minute of the run (the first and last are partial)."""
    offset = time.time() - time.monotonic()  # the log keeps monotonic times; Chatwoot counts wall-clock minutes
    answered = Counter(int((r.at + offset) // 60) for r in sandbox.requests if r.outcome not in (429, "429"))
    rejected = Counter(int((r.at + offset) // 60) for r in sandbox.requests if r.outcome in (429, "429"))
    minutes = sorted(answered)[1:-1]
    if not minutes:
        return "no whole clock minute: raise --leads or lower --rate-limit"
    used = statistics.mean(answered[m] for m in minutes) / limit
    extra = statistics.mean(rejected[m] for m in minutes)
    return f"{len(minutes)} whole minutes: {used:.0%} of the {limit}/min limit used, {extra:.1f} 429s a minute"


def show(result: dict, clean_calls: float | None) -> None:
    print(f"\n{result['name']}: {result['done']}/{result['qualified']} handed off")
    print("\n".join(result["lines"]))
    timing = (
        f"post → handed off p50 {result['p50']:.1f} s, p95 {result['p95']:.1f} s" if result["p50"] is not None else "—"
    )
    per = result["calls"] / max(result["done"], 1)
    ratio = f" = {per / clean_calls:.2f}× the clean run" if clean_calls else ""
    print(f"  {timing}; {result['calls']} Chatwoot calls, {per:.1f} per handoff{ratio}; 429s {result['rejected_429']}")
    if result["after_last_post"] is not None:
        print(f"  last handoff done {result['after_last_post']:.1f} s after the last post")
    if result["after_return"] is not None:
        print(f"  {result['during_outage']} calls while Chatwoot was down (probes, not every handoff retrying)")
        print(f"  last handoff done {result['after_return']:.1f} s after Chatwoot came back")
    if result["minutes"]:
        print(f"  budget: {result['minutes']}")
    print(f"  duplicates in Chatwoot: {result['duplicates']}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scenarios", default="clean,faults,faults429,outage,budget")
    parser.add_argument("--leads", type=int, default=200)
    parser.add_argument("--latency-ms", type=int, default=50)
    parser.add_argument("--max-seconds", type=float, default=480)
    parser.add_argument("--outage-seconds", type=float, default=60)
    parser.add_argument("--rate-limit", type=int, default=150, help="Per minute, for the budget scenario.")
    args = parser.parse_args()
    call_command("migrate", verbosity=0)
    settings.CHATWOOT_RATE_LIMIT_PER_MINUTE = 1_000_000
    clean_calls = None
    with Sandbox(token="bench-token", latency_ms=args.latency_ms).start() as sandbox:
        print(f"database: {django.db.connection.vendor}; sandbox latency {args.latency_ms} ms; default settings")
        for seed, name in enumerate(args.scenarios.split(","), start=1):
            result = scenario_run(name.strip(), sandbox, args, seed)
            show(result, clean_calls)
            if result["name"] == "clean":
                clean_calls = result["calls"] / max(result["done"], 1)


if __name__ == "__main__":
    main()
