"""Check that Nexa can hand leads off to Chatwoot, and say how to fix what is wrong."""

from django.core.management.base import BaseCommand, CommandError

from handoff.diagnostics import chatwoot_checks


class Command(BaseCommand):
    help = "Check the Chatwoot URL, token, account, inbox and agents; print a concrete fix for each problem."

    def handle(self, *args, **options):
        failures = 0
        for check in chatwoot_checks():
            if check.ok:
                self.stdout.write(self.style.SUCCESS(f"✓ {check.label}"))
            else:
                failures += 1
                self.stdout.write(self.style.ERROR(f"✗ {check.label}"))
                self.stdout.write(f"  → {check.fix}")
        if failures:
            raise CommandError(f"{failures} problema(s) com o Chatwoot.")
        self.stdout.write(self.style.SUCCESS("Tudo certo para transferir leads."))
