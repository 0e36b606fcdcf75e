"""Time the dashboard, the metrics API and the lead changelist at scale (run it against PostgreSQL).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/nexa_bench python bench/dashboard.py --leads 1000000

Tops the database up to --leads leads spread over --days days, with two bot messages a lead and the
handoffs of those that reached Chatwoot (about a fifth; `seed_bulk --handoffs`), then requests each page
--rounds times through Django's test client (the whole stack, no network) and prints the median and p95.
The baseline is the admin's Group changelist on a near-empty table, measured in the same run.
"""

import argparse
import os
import sys
from functools import partial
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "nexa.settings.base")
os.environ["DJANGO_DEBUG"] = "false"
os.environ["DJANGO_ALLOWED_HOSTS"] = "testserver"

import django

django.setup()

from django.core.management import call_command
from django.db import connection

from bench.pages import analyze, report, staff_client
from handoff.bulk import handoffs_generate
from handoff.models import ChatwootCall, Handoff
from leads.bulk import leads_generate, progress_bar
from leads.models import Lead, Message

PAGES = {
    "baseline: group changelist": "/admin/auth/group/",
    "dashboard, last 30 days": "/dashboard/?range=30d",
    "dashboard, last 7 days": "/dashboard/?range=7d",
    "dashboard, today": "/dashboard/?range=today",
    "dashboard, 30 days, one team": "/dashboard/?range=30d&team=2",
    "metrics API, last 30 days": "/api/v1/metrics/",
    "agents CSV, last 30 days": "/dashboard/agentes.csv?range=30d",
    "lead changelist (unfiltered)": "/admin/leads/lead/",
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--leads", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=365, help="Spread of creation dates for new leads.")
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()

    call_command("migrate", verbosity=0)
    missing = args.leads - Lead.objects.count()
    if missing > 0:
        print(f"Adding {missing:,} leads with messages and handoffs…")
        leads_generate(
            count=missing,
            days=args.days,
            messages_per_lead=2,
            progress=progress_bar(missing, lambda text: print(text, end="", flush=True)),
            with_batch=partial(handoffs_generate, calls_per_handoff=2),
        )
        print()
    analyze("leads_lead", "handoff_handoff", "handoff_handoffevent", "handoff_chatwootcall")
    print(
        f"database: {connection.vendor}, leads: {Lead.objects.count():,}, handoffs: {Handoff.objects.count():,}, "
        f"messages: {Message.objects.count():,}, Chatwoot calls: {ChatwootCall.objects.count():,}, "
        f"rounds: {args.rounds}"
    )
    report(staff_client(), PAGES, args.rounds)


if __name__ == "__main__":
    main()
