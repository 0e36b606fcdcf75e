"""Where a handoff's CPU goes, phase by phase, in one process: the trigger POST, the attempt, the webhooks it causes
(received, then processed as the worker's tasks).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/nexa_prof python bench/cpu.py --handoffs 50

Each phase runs through Django's whole stack (test client for HTTP, the services for the attempt and the webhook
tasks) against the sandbox in this process, answering at once. CPU is the calling thread's own (the sandbox's
threads are not counted), so the figures are Nexa's Python work; PostgreSQL's is apart. Queries are counted per
phase, and on PostgreSQL the CPU of this connection's server process too. `--profile PHASE` prints cProfile's top
functions for one phase (post, attempt, hook_post, hook_task), `--sql PHASE` the statements of that phase for the last
handoff.

The baseline, measured in the same run: the stack's floor for what a handoff must do at the least, through the same
middleware, authentication and database: the trigger as an authenticated API request that writes one row, each
webhook as a signed request that writes one row, and each Chatwoot call as a requests call to the same sandbox
followed by one checkpoint UPDATE.
"""

import argparse
import cProfile
import json
import os
import pstats
import sys
import time
import types
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "nexa.settings.base")
os.environ["LOG_LEVEL"] = "ERROR"
os.environ["DJANGO_ALLOWED_HOSTS"] = "testserver"

import django
import requests

django.setup()

from django.conf import settings
from django.core.management import call_command
from django.db import connection
from django.test import Client, override_settings
from django.test.utils import CaptureQueriesContext
from django.urls import path
from django.utils import timezone
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework_api_key.models import APIKey

from bench.servers import database_empty, process_cpu_seconds
from bench.throughput import trigger
from chatwoot_sandbox import Sandbox
from chatwoot_sandbox.webhooks import chatwoot_json, delivery_headers
from handoff.events import HANDLERS
from handoff.models import ChatwootCall, Handoff, WebhookDelivery
from handoff.services import dispatcher, handoff_process, webhook_process
from handoff.services import webhooks as receiver
from handoff.webhooks import webhook_authenticate

SECRET = "bench-webhook-secret"
PHASES = ("post", "attempt", "hook_post", "hook_task")
FLOOR_PHASES = ("floor_post", "floor_calls", "floor_hooks")


def database_cpu() -> float:
    """CPU seconds of this connection's PostgreSQL server process (0 on SQLite: it runs in this thread)."""
    if connection.vendor != "postgresql":
        return 0.0
    connection.ensure_connection()
    return process_cpu_seconds(connection.connection.info.backend_pid)


class FloorTrigger(APIView):
    """An authenticated, throttled API request (the project's defaults) that stores its body in one row."""

    def post(self, request):
        WebhookDelivery.objects.create(delivery_id=str(uuid.uuid4()), event="floor", body=json.dumps(request.data))
        return Response({"status": "queued"}, status=202)


class FloorWebhook(APIView):
    """A signed delivery, verified as Chatwoot's are, stored in one row."""

    authentication_classes, permission_classes, throttle_classes, parser_classes = [], [AllowAny], [], []

    def post(self, request):
        webhook_authenticate(request, request.body)
        WebhookDelivery.objects.create(delivery_id=str(uuid.uuid4()), event="floor", body=request.body.decode())
        return Response({"status": "accepted"})


floor_urls = types.ModuleType("bench_floor_urls")
floor_urls.urlpatterns = [
    path("floor/trigger/", FloorTrigger.as_view()),
    path("floor/webhook/", FloorWebhook.as_view()),
]
sys.modules[floor_urls.__name__] = floor_urls


class Meter:
    """Thread CPU and queries per phase, and a profile of each."""

    def __init__(self):
        self.cpu = dict.fromkeys(PHASES + FLOOR_PHASES, 0.0)
        self.database = dict.fromkeys(PHASES + FLOOR_PHASES, 0.0)
        self.queries = dict.fromkeys(PHASES + FLOOR_PHASES, 0)
        self.profiles = {phase: cProfile.Profile(time.thread_time) for phase in PHASES}  # CPU, not waits
        self.statements = {phase: [] for phase in PHASES + FLOOR_PHASES}

    def measure(self, phase: str, work, *, profile: bool = False):
        database_started = database_cpu()
        connection.queries_log.clear()  # it keeps at most 9000: a long run would stop counting
        started = time.thread_time()
        with CaptureQueriesContext(connection) as queries:
            if profile:
                self.profiles[phase].enable()
            result = work()
            if profile:
                self.profiles[phase].disable()
        self.cpu[phase] += time.thread_time() - started
        self.database[phase] += database_cpu() - database_started
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
    database_empty()
    sandbox = Sandbox(token="bench-token").start()
    settings.CHATWOOT_BASE_URL, settings.CHATWOOT_API_TOKEN = sandbox.base_url, "bench-token"
    settings.CHATWOOT_ACCOUNT_ID, settings.CHATWOOT_INBOX_ID = 1, 1
    settings.CHATWOOT_WEBHOOK_SECRETS, settings.CHATWOOT_RATE_LIMIT_PER_MINUTE = [SECRET], 1_000_000
    sandbox.webhook_secret = SECRET  # the payloads it builds are posted here, not sent
    dispatcher.async_task = lambda *args, **kwargs: None  # the attempt runs here, not in a worker
    queued: list[int] = []
    receiver.async_task = lambda task, delivery_pk, **kwargs: queued.append(delivery_pk)
    key = APIKey.objects.create_key(name=f"bench-cpu-{uuid.uuid4()}")[1]
    client, meter, deliveries = Client(), Meter(), []
    for index in range(args.handoffs):
        meter.statements = {phase: [] for phase in PHASES + FLOOR_PHASES}  # the last handoff's
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
            deliveries.append((raw, headers))
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
    assert not WebhookDelivery.objects.filter(state=WebhookDelivery.State.RECEIVED).exists(), "a delivery unapplied"
    hooks = WebhookDelivery.objects.count() / args.handoffs
    calls = ChatwootCall.objects.count() / args.handoffs
    floor_measure(meter, sandbox, key, deliveries, handoffs=args.handoffs, calls=round(calls))
    sandbox.stop()

    count = args.handoffs
    print(f"database: {connection.vendor}; {count} handoffs; {hooks:.1f} webhooks each")
    print(f"{'phase':28} {'CPU ms/handoff':>15} {'PostgreSQL ms':>14} {'queries/handoff':>16}")

    def line(label, phases):
        cpu, database = (
            sum(measure[phase] for phase in phases) * 1000 / count for measure in (meter.cpu, meter.database)
        )
        print(f"{label:28} {cpu:15.1f} {database:14.1f} {sum(meter.queries[p] for p in phases) / count:16.1f}")
        return cpu + database

    for phase in PHASES + FLOOR_PHASES:
        line(phase, (phase,))
    nexa = line("all (Nexa, one process)", PHASES)
    floor = line("floor (the stack, least)", FLOOR_PHASES)
    print(f"Nexa + PostgreSQL per handoff: {nexa:.1f} ms = {nexa / floor:.2f}× the floor ({floor:.1f} ms)")
    if args.sql:
        print("\n".join(statement[:300] for statement in meter.statements[args.sql]))
    if args.profile:
        stats = pstats.Stats(meter.profiles[args.profile]).sort_stats(os.environ.get("BENCH_SORT", "tottime"))
        stats.print_stats(30)
        if os.environ.get("BENCH_DUMP"):
            stats.dump_stats(os.environ["BENCH_DUMP"])
        if os.environ.get("BENCH_CALLERS"):
            stats.print_callers(os.environ["BENCH_CALLERS"])


def floor_measure(meter: Meter, sandbox: Sandbox, key: str, deliveries: list, *, handoffs: int, calls: int) -> None:
    """The baseline: per handoff, one authenticated trigger, `calls` Chatwoot calls each with a checkpoint, and the
    same signed webhook deliveries, each request storing one row."""
    client, session = Client(), requests.Session()
    url = f"{sandbox.base_url}/api/v1/accounts/1/contacts/filter"
    query = {
        "payload": [{"attribute_key": "phone_number", "filter_operator": "equal_to", "values": ["+5511999990000"]}]
    }
    handoff = Handoff.objects.first()
    with override_settings(ROOT_URLCONF=floor_urls.__name__):
        for index in range(handoffs):
            body = json.dumps(trigger(index, run=1))
            meter.measure(
                "floor_post",
                lambda body=body: client.post(
                    "/floor/trigger/", body, content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {key}"
                ),
            )

            def chatwoot_calls():
                for _ in range(calls):
                    answer = session.post(url, json=query, headers={"api_access_token": "bench-token"}, timeout=10)
                    answer.raise_for_status()
                    answer.json()
                    Handoff.objects.filter(pk=handoff.pk).update(updated_at=timezone.now())

            meter.measure("floor_calls", chatwoot_calls)
        for raw, headers in deliveries:
            meter.measure(
                "floor_hooks",
                lambda raw=raw, headers=headers: client.post(
                    "/floor/webhook/", raw, content_type="application/json", **headers
                ),
            )


if __name__ == "__main__":
    main()
