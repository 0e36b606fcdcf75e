"""Read the account's inboxes from Chatwoot again and list what Nexa knows of each (the admin has the same button)."""

from django.core.management.base import BaseCommand, CommandError

from handoff.services.chatwoot import CHATWOOT_UNAVAILABLE
from handoff.services.inboxes import inbox_refusal, inboxes_refresh


class Command(BaseCommand):
    help = "Refresh Chatwoot's inboxes (GET /inboxes): kind, WhatsApp number, Evolution instance, usable by Nexa."

    def handle(self, *args, **options):
        try:
            inboxes = inboxes_refresh()
        except CHATWOOT_UNAVAILABLE as err:
            raise CommandError(f"Não foi possível ler as caixas do Chatwoot: {err}") from err
        for inbox in inboxes:
            usable = "usada pelo Nexa" if inbox.served else f"não usada: {inbox_refusal(inbox)}"
            details = ", ".join(filter(None, [inbox.phone_number, inbox.instance and f"instância {inbox.instance}"]))
            self.stdout.write(f"{inbox.pk:>6}  {inbox.name} — {inbox.get_kind_display()} {details} — {usable}")
