"""Time the admin lead changelist on a large table (run it against PostgreSQL).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/nexa_bench python bench/changelist.py --leads 100000

Tops the lead table up to --leads rows with `seed_bulk`, then requests each page --rounds times
through Django's test client (the whole admin stack, no network) and prints the median and p95.
The baseline is the admin's Group changelist: the same admin machinery on a near-empty table, so
the ratio shows what the lead table's size adds.
"""

import argparse
import os
import sys
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
from leads.bulk import leads_generate, progress_bar
from leads.models import Lead

PAGES = {
    "baseline: group changelist": "/admin/auth/group/",
    "lead changelist (unfiltered)": "/admin/leads/lead/",
    "lead changelist, status=handed_off": "/admin/leads/lead/?status__exact=handed_off",
    "lead changelist, qualified band": "/admin/leads/lead/?score=qualified",
    "lead changelist, phone search": "/admin/leads/lead/?q=(11)+96000-0001",
    "lead changelist, name search": "/admin/leads/lead/?q=Camila+Souza",
    "lead changelist, page 200": "/admin/leads/lead/?p=200",
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--leads", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=30)
    args = parser.parse_args()

    call_command("migrate", verbosity=0)
    missing = args.leads - Lead.objects.count()
    if missing > 0:
        print(f"Adding {missing:,} leads…")
        leads_generate(count=missing, progress=progress_bar(missing, lambda t: print(t, end="", flush=True)))
        print()
    analyze("leads_lead")
    print(f"database: {connection.vendor}, leads: {Lead.objects.count():,}, rounds: {args.rounds}")
    report(staff_client(), PAGES, args.rounds)


if __name__ == "__main__":
    main()
