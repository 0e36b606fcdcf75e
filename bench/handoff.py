"""Handoff cost against the Chatwoot sandbox with injected latency: Chatwoot calls and latency per handoff.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/nexa_bench python bench/handoff.py --leads 100 --latency-ms 50

Runs the same service the worker runs (handoff_process), one handoff at a time, for new contacts and for
contacts that already exist in Chatwoot. The baseline is the network time no client can avoid: calls × the
injected latency; the ratio shows what Nexa adds on top (database checkpoints, audit rows, rendering).
Without DATABASE_URL it uses a throwaway SQLite file.
"""

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "nexa.settings.base")
os.environ.setdefault("DATABASE_URL", f"sqlite:///{tempfile.mkdtemp()}/bench.sqlite3")
os.environ["REDIS_URL"] = ""
os.environ["LOG_LEVEL"] = "ERROR"

import django

django.setup()

import requests
from django.conf import settings
from django.core.management import call_command

from chatwoot_sandbox import Sandbox
from handoff.models import ChatwootCall, Handoff
from handoff.services import handoff_process
from leads import services
from leads.models import Lead
from leads.phones import phone_parse


def lead_qualified(index: int, prefix: str) -> Lead:
    phone = phone_parse(f"+55 {prefix} 9{70_000_000 + index}")
    lead, _ = services.lead_upsert(phone=phone, data={"name": f"Lead {index}", "interest": "Energia solar"})
    services.messages_add(
        lead=lead,
        messages=[
            services.NewMessage(sender="lead", content="Oi, quero um orçamento de energia solar"),
            services.NewMessage(sender="bot", content="Olá! Qual o valor médio da sua conta de luz?"),
            services.NewMessage(sender="lead", content="Uns R$ 600 por mês"),
        ],
    )
    lead, _ = services.lead_upsert(phone=phone, data={"qualification_score": 9})
    return lead


def measure(leads: list[Lead]) -> tuple[list[float], list[int]]:
    latencies, calls = [], []
    for lead in leads:
        handoff = lead.handoffs.get()
        start = time.perf_counter()
        assert handoff_process(handoff_id=handoff.pk) == "done"
        latencies.append((time.perf_counter() - start) * 1000)
        calls.append(ChatwootCall.objects.filter(handoff=handoff).count())
    return latencies, calls


def report(label: str, latencies: list[float], calls: list[int], latency_ms: int) -> None:
    ordered = sorted(latencies)
    p50 = statistics.median(ordered)
    p95 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]
    per = statistics.mean(calls)
    floor = per * latency_ms
    rate = 1000 / statistics.mean(latencies)
    print(
        f"{label:16} calls/handoff {per:4.1f}  p50 {p50:7.1f} ms  p95 {p95:7.1f} ms  "
        f"network floor {floor:5.0f} ms  p50/floor {p50 / floor:4.2f}×  serial {rate:5.2f}/s"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--leads", type=int, default=100)
    parser.add_argument("--latency-ms", type=int, default=50)
    args = parser.parse_args()

    call_command("migrate", verbosity=0)
    Lead.objects.all().delete()
    with Sandbox(token="bench-token", latency_ms=0).start() as sandbox:
        settings.CHATWOOT_BASE_URL, settings.CHATWOOT_API_TOKEN = sandbox.base_url, "bench-token"
        settings.CHATWOOT_ACCOUNT_ID = settings.CHATWOOT_INBOX_ID = 1
        settings.CHATWOOT_RATE_LIMIT_PER_MINUTE = 1_000_000
        fresh = [lead_qualified(i, "11") for i in range(args.leads)]
        existing = [lead_qualified(i, "21") for i in range(args.leads)]
        for lead in existing:  # contacts Chatwoot already has (another channel, an earlier import)
            requests.post(
                f"{sandbox.base_url}/api/v1/accounts/1/contacts",
                json={"name": lead.name, "phone_number": lead.phone},
                headers={"api_access_token": "bench-token"},
                timeout=5,
            )
        sandbox.set_latency(args.latency_ms)
        print(
            f"database: {django.db.connection.vendor}; {args.leads} handoffs each; sandbox latency {args.latency_ms} ms"
        )
        report("new contact", *measure(fresh), args.latency_ms)
        report("existing contact", *measure(existing), args.latency_ms)
        assert Handoff.objects.exclude(state="done").count() == 0


if __name__ == "__main__":
    main()
