"""Generate many realistic leads (with conversations, messages and handoffs) for benchmarks."""

from functools import partial

from django.core.management.base import BaseCommand, CommandError

from handoff.bulk import handoffs_generate
from leads.bulk import leads_generate, progress_bar


class Command(BaseCommand):
    help = "Insert N realistic leads spread over recent days, with a progress bar."

    def add_arguments(self, parser):
        parser.add_argument("count", type=int, help="How many leads to add.")
        parser.add_argument("--days", type=int, default=90, help="Spread creation dates over this many days.")
        parser.add_argument(
            "--messages-per-lead", type=float, default=0.0, help="Average bot messages per lead (0: none)."
        )
        parser.add_argument(
            "--handoffs",
            action="store_true",
            help="Also the handoffs of the leads that reached Chatwoot, with outcomes.",
        )
        parser.add_argument(
            "--calls-per-handoff", type=int, default=0, choices=range(6), help="Chatwoot call audit rows per handoff."
        )
        parser.add_argument("--seed", type=int, default=7, help="Random seed, for repeatable data.")

    def handle(self, *args, count: int, days: int, messages_per_lead: float, seed: int, **options):
        with_batch = None
        if options["handoffs"]:
            calls = options["calls_per_handoff"]
            with_batch = partial(handoffs_generate, calls_per_handoff=calls)
        if count < 1 or days < 1 or messages_per_lead < 0:
            raise CommandError("count and --days must be positive, --messages-per-lead not negative.")
        show = progress_bar(count, lambda text: (self.stdout.write(text, ending=""), self.stdout.flush()))
        inserted = leads_generate(
            count=count,
            days=days,
            messages_per_lead=messages_per_lead,
            seed=seed,
            progress=show,
            with_batch=with_batch,
        )
        self.stdout.write("")
        self.stdout.write(self.style.SUCCESS(f"{inserted:,} leads inserted."))
