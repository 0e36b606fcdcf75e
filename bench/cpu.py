"""Where a handoff's CPU goes, phase by phase, in one process: the trigger POST, the attempt, the webhooks it causes
(received, then processed as the worker's tasks).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/nexa_prof python bench/cpu.py --handoffs 50

Each phase runs through Django's whole stack (test client for HTTP, the services for the attempt and the webhook
tasks) against the sandbox in this process, answering at once. CPU is the calling thread's own (the sandbox's
threads are not counted), so the figures are Nexa's Python work; PostgreSQL's is apart. Queries are counted per
phase. `--profile PHASE` prints cProfile's top functions for one phase (post, attempt, hook_post, hook_task), `--sql
PHASE` the statements of that phase for the last handoff.
"""

import argparse
import cProfile
import json
import os
import pstats
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "nexa.settings.base")
os.environ["LOG_LEVEL"] = "ERROR"
os.environ["DJANGO_ALLOWED_HOSTS"] = "testserver"

import django

django.setup()

from django.conf import settings
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from rest_framework_api_key.models import APIKey

from bench.throughput import trigger
from chatwoot_sandbox import Sandbox
from chatwoot_sandbox.webhooks import chatwoot_json, delivery_headers
from handoff.events import HANDLERS
from handoff.models import ChatwootCall, Handoff, HandoffDispatcher, WebhookDelivery
from handoff.services import dispatcher, handoff_process, webhook_process
from handoff.services import webhooks as receiver
from leads.models import Lead

SECRET = "bench-webhook-secret"
PHASES = ("post", "attempt", "hook_post", "hook_task")


class Meter:
    """Thread CPU and queries per phase, and a profile of each."""

    def __init__(self):
        self.cpu = dict.fromkeys(PHASES, 0.0)
        self.queries = dict.fromkeys(PHASES, 0)
        self.profiles = {phase: cProfile.Profile(time.thread_time) for phase in PHASES}  # CPU, not waits
        self.statements = {phase: [] for phase in PHASES}

    def measure(self, phase: str, work, *, profile: bool):
        started = time.thread_time()
        with CaptureQueriesContext(connection) as queries:
            if profile:
                self.profiles[phase].enable()
            result = work()
            if profile:
                self.profiles[phase].disable()
        self.cpu[phase] += time.thread_time() - started
        self.queries[phase] += len(queries.captured_queries)
        self.statements[phase] += [query["sql"] for query in queries.captured_queries]
        return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--handoffs", type=int, default=50)
    parser.add_argument("--profile", choices=PHASES)
    parser.add_argument("--sql", choices=PHASES)
    args = parser.parse_args()

    call_command("migrate", verbosity=0)
    for model in (Lead, ChatwootCall, WebhookDelivery, HandoffDispatcher):
        model.objects.all().delete()
    sandbox = Sandbox(token="bench-token").start()
    settings.CHATWOOT_BASE_URL, settings.CHATWOOT_API_TOKEN = sandbox.base_url, "bench-token"
    settings.CHATWOOT_ACCOUNT_ID, settings.CHATWOOT_INBOX_ID = 1, 1
    settings.CHATWOOT_WEBHOOK_SECRETS, settings.CHATWOOT_RATE_LIMIT_PER_MINUTE = [SECRET], 1_000_000
    sandbox.webhook_secret = SECRET  # the payloads it builds are posted here, not sent
    dispatcher.async_task = lambda *args, **kwargs: None  # the attempt runs here, not in a worker
    queued: list[int] = []
    receiver.async_task = lambda task, delivery_pk, **kwargs: queued.append(delivery_pk)
    key = APIKey.objects.create_key(name=f"bench-cpu-{uuid.uuid4()}")[1]
    client, meter = Client(), Meter()
    for index in range(args.handoffs):
        meter.statements = {phase: [] for phase in PHASES}  # the last handoff's
        payload = trigger(index, run=0)  # the throughput benchmark's Atlas trigger
        body = json.dumps(payload)
        answer = meter.measure(
            "post",
            lambda body=body: client.post(
                "/api/v1/handoffs/", body, content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {key}"
            ),
            profile=args.profile == "post",
        )
        assert answer.status_code == 202, answer.content
        handoff = Handoff.objects.get(lead__external_id=payload["id"])
        events = len(sandbox.events)
        attempt = lambda pk=handoff.pk: handoff_process(handoff_id=pk)  # noqa: E731
        meter.measure("attempt", attempt, profile=args.profile == "attempt")
        for payload in [e for e in sandbox.events[events:] if e["event"] in HANDLERS]:  # the README's subscriptions
            raw = chatwoot_json(payload)
            headers = {f"HTTP_{k.upper().replace('-', '_')}": v for k, v in delivery_headers(SECRET, raw).items()}
            meter.measure(
                "hook_post",
                lambda raw=raw, headers=headers: client.post(
                    "/api/v1/webhooks/chatwoot/", raw, content_type="application/json", **headers
                ),
                profile=args.profile == "hook_post",
            )
        for pk in queued:
            task = lambda pk=pk: webhook_process(delivery_pk=pk)  # noqa: E731
            meter.measure("hook_task", task, profile=args.profile == "hook_task")
        queued.clear()
    sandbox.stop()
    assert not WebhookDelivery.objects.filter(state=WebhookDelivery.State.RECEIVED).exists(), "a delivery unapplied"

    count = args.handoffs
    hooks = WebhookDelivery.objects.count() / count
    print(f"database: {connection.vendor}; {count} handoffs; {hooks:.1f} webhooks each")
    print(f"{'phase':28} {'CPU ms/handoff':>15} {'queries/handoff':>16}")
    for phase in PHASES:
        print(f"{phase:28} {meter.cpu[phase] * 1000 / count:15.1f} {meter.queries[phase] / count:16.1f}")
    total_cpu, total_queries = sum(meter.cpu.values()) * 1000 / count, sum(meter.queries.values()) / count
    print(f"{'all (Nexa, one process)':28} {total_cpu:15.1f} {total_queries:16.1f}")
    if args.sql:
        print("\n".join(statement[:300] for statement in meter.statements[args.sql]))
    if args.profile:
        stats = pstats.Stats(meter.profiles[args.profile]).sort_stats(os.environ.get("BENCH_SORT", "tottime"))
        stats.print_stats(30)
        if os.environ.get("BENCH_CALLERS"):
            stats.print_callers(os.environ["BENCH_CALLERS"])


if __name__ == "__main__":
    main()
