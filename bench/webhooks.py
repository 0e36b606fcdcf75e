"""Webhook acknowledgement under gunicorn + PostgreSQL, as a ratio to a trivial Django JSON view; and replays.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/nexa_bench python bench/webhooks.py --deliveries 2000 --senders 20

Starts gunicorn (--workers, default 4) on a free local port, sends --deliveries signed message_created
deliveries from --senders threads, and the same number of GETs to /healthz (the baseline: the same server,
same database connection settings, no work) in the same run. Then sends 10 concurrent replays of one
delivery and counts what they changed. Chatwoot waits 5 s and never retries (API-NOTES F.5): the target is
p99 under 100 ms.
"""

import argparse
import json
import os
import statistics
import sys
import threading
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "nexa.settings.base")
SECRET = "bench-webhook-secret"
os.environ["CHATWOOT_WEBHOOK_SECRETS"] = SECRET

import django

django.setup()

import requests
from django.core.management import call_command

from bench.servers import free_port, gunicorn_start, process_group_stop
from handoff.models import Handoff, WebhookDelivery
from handoff.services import webhook_process
from handoff.signatures import signature_for
from leads.models import Lead, Message

CONVERSATION = 990_001


def delivery(message_id: int) -> tuple[bytes, dict]:
    payload = {
        "event": "message_created",
        "id": message_id,
        "content": "Olá, tudo bem?",
        "message_type": "incoming",
        "private": False,
        "created_at": "2026-11-25T12:00:00.000Z",
        "sender": {"id": 42, "name": "Maria"},
        "conversation": {"id": CONVERSATION},
        "account": {"id": 1, "name": "Bench"},
    }
    body = json.dumps(payload, separators=(",", ":")).encode()
    stamp = str(int(time.time()))
    headers = {
        "Content-Type": "application/json",
        "X-Chatwoot-Delivery": str(uuid.uuid4()),
        "X-Chatwoot-Timestamp": stamp,
        "X-Chatwoot-Signature": signature_for(SECRET, stamp, body),
    }
    return body, headers


def load(count: int, senders: int, send) -> list[float]:
    """`count` requests from `senders` threads, each with its own connection; latencies in ms."""
    latencies: list[float] = []
    lock = threading.Lock()

    def sender(indexes):
        session = requests.Session()
        for index in indexes:
            start = time.perf_counter()
            response = send(session, index)
            elapsed = (time.perf_counter() - start) * 1000
            assert response.status_code == 200, response.text
            with lock:
                latencies.append(elapsed)

    threads = [threading.Thread(target=sender, args=(range(i, count, senders),)) for i in range(senders)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return latencies


def summary(label: str, latencies: list[float], seconds: float) -> tuple[float, float]:
    ordered = sorted(latencies)
    p50, p99 = statistics.median(ordered), ordered[int(len(ordered) * 0.99) - 1]
    print(f"{label:30} p50 {p50:6.1f} ms  p99 {p99:6.1f} ms  {len(ordered) / seconds:7.0f} req/s")
    return p50, p99


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--deliveries", type=int, default=2000)
    parser.add_argument("--senders", type=int, default=20)
    parser.add_argument("--workers", type=int, default=4)
    args = parser.parse_args()

    call_command("migrate", verbosity=0)
    WebhookDelivery.objects.all().delete()
    lead, _ = Lead.objects.get_or_create(phone="+5511999990001", defaults={"name": "Bench", "status": "handed_off"})
    Handoff.objects.get_or_create(
        lead=lead, conversation_id=CONVERSATION, defaults={"trigger": "score", "state": "done"}
    )
    port = free_port()
    server = gunicorn_start(port, args.workers)
    base = f"http://127.0.0.1:{port}"
    try:
        print(
            f"gunicorn {args.workers} workers, {django.db.connection.vendor}; "
            f"{args.deliveries} requests from {args.senders} senders"
        )
        load(args.senders * 10, args.senders, lambda s, i: s.get(f"{base}/healthz", timeout=10))  # warm every worker
        start = time.perf_counter()
        baseline = load(args.deliveries, args.senders, lambda s, i: s.get(f"{base}/healthz", timeout=10))
        base_p50, base_p99 = summary("baseline: GET /healthz", baseline, time.perf_counter() - start)
        first_id = int(time.time() * 1000)
        bodies = [delivery(first_id + i) for i in range(args.deliveries)]
        start = time.perf_counter()
        acks = load(
            args.deliveries,
            args.senders,
            lambda s, i: s.post(
                f"{base}/api/v1/webhooks/chatwoot/", data=bodies[i][0], headers=bodies[i][1], timeout=10
            ),
        )
        p50, p99 = summary("webhook acknowledgement", acks, time.perf_counter() - start)
        print(
            f"{'ratio to baseline':30} p50 {p50 / base_p50:5.2f}×   p99 {p99 / base_p99:5.2f}×   "
            f"(target p99 < 100 ms: {'met' if p99 < 100 else 'NOT met'})"
        )
        assert WebhookDelivery.objects.filter(event="message_created").count() == args.deliveries

        body, headers = delivery(first_id + args.deliveries + 1)
        statuses = load(
            10, 10, lambda s, i: s.post(f"{base}/api/v1/webhooks/chatwoot/", data=body, headers=headers, timeout=10)
        )
        replayed = WebhookDelivery.objects.filter(delivery_id=headers["X-Chatwoot-Delivery"])
        for stored in replayed:
            webhook_process(delivery_pk=stored.pk)
        external_id = f"chatwoot:{first_id + args.deliveries + 1}"
        print(
            f"10 concurrent replays: {len(statuses)} answered 200, {replayed.count()} delivery stored, "
            f"{Message.objects.filter(external_id=external_id).count()} message mirrored"
        )
    finally:
        process_group_stop(server)


if __name__ == "__main__":
    main()
