"""Delete the rows past their retention now (the worker also does it every hour); --dry-run only counts them."""

from django.conf import settings
from django.core.management.base import BaseCommand

from handoff.services import retention_purge


class Command(BaseCommand):
    help = (
        "Delete Chatwoot call audit rows and finished worker tasks older than NEXA_AUDIT_RETENTION_DAYS, and "
        "processed or ignored webhook deliveries older than NEXA_WEBHOOK_RETENTION_DAYS, in batches."
    )

    def add_arguments(self, parser):
        parser.add_argument("--dry-run", action="store_true", help="Count what would be deleted; delete nothing.")
        parser.add_argument("--batch-size", type=int, default=None, help="Rows per DELETE (NEXA_PURGE_BATCH_SIZE).")

    def handle(self, *args, dry_run: bool, batch_size: int | None, **options):
        # No batch cap from the command line: an operator running it wants the backlog gone.
        counts = retention_purge(dry_run=dry_run, batch_size=batch_size, max_batches=10**9)
        verb = "would delete" if dry_run else "deleted"
        self.stdout.write(
            f"{verb}: {counts.chatwoot_calls} Chatwoot calls (> {settings.NEXA_AUDIT_RETENTION_DAYS} days), "
            f"{counts.webhook_deliveries} webhook deliveries (> {settings.NEXA_WEBHOOK_RETENTION_DAYS} days), "
            f"{counts.tasks} finished tasks (> {settings.NEXA_AUDIT_RETENTION_DAYS} days)"
        )
