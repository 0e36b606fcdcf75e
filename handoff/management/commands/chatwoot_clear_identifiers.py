"""Clear the "nexa-lead-<id>" identifier older versions of Nexa wrote on Chatwoot contacts (once, after upgrading)."""

from django.core.management.base import BaseCommand, CommandError

from handoff.services.chatwoot import CHATWOOT_UNAVAILABLE
from handoff.services.contacts import contacts_legacy_identifiers_clear


class Command(BaseCommand):
    help = (
        'Clear "nexa-lead-<id>" from the identifier of the contacts of every lead Nexa handed off: Evolution API '
        "sends an agent's reply to the identifier's digits, so those leads never received it (README: WhatsApp)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--dry-run", action="store_true", help="List the contacts; change nothing.")

    def handle(self, *args, dry_run: bool, **options):
        try:
            contacts = contacts_legacy_identifiers_clear(dry_run=dry_run)
        except CHATWOOT_UNAVAILABLE as err:
            raise CommandError(f"Chatwoot não respondeu: {err}. Rode de novo: o que já foi limpo fica limpo.") from err
        for contact in contacts:
            self.stdout.write(f"{contact.id:>8}  {contact.identifier}  {contact.phone_number}")
        verb = "a limpar" if dry_run else "limpos"
        self.stdout.write(self.style.SUCCESS(f"{len(contacts)} contato(s) {verb}."))
