"""Create an API key for a client such as Atlas Nexa; the key is printed once and stored hashed."""

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from rest_framework_api_key.models import APIKey

from leads.models import ApiKeyAccess, ApiScope


class Command(BaseCommand):
    help = (
        "Create an API key and print it once. Revoke keys, or change their scopes, in the admin "
        "(API Key Permissions → API keys)."
    )

    def add_arguments(self, parser):
        parser.add_argument("name", help="Who uses the key, e.g. 'atlas-nexa-prod'.")
        parser.add_argument(
            "--scopes",
            help=f"What the key may do, comma-separated: {', '.join(ApiScope.values)}. Without it, everything.",
        )

    def handle(self, *args, name: str, scopes: str | None, **options):
        wanted = None if scopes is None else sorted({scope.strip() for scope in scopes.split(",") if scope.strip()})
        unknown = sorted(set(wanted or ()) - set(ApiScope.values))
        if unknown or wanted == []:
            raise CommandError(f"--scopes: {', '.join(unknown) or 'vazio'}; use {', '.join(ApiScope.values)}.")
        with transaction.atomic():
            api_key, key = APIKey.objects.create_key(name=name)
            if wanted is not None:
                ApiKeyAccess.objects.create(api_key=api_key, scopes=wanted)
        scope_text = ", ".join(wanted) if wanted is not None else "todos os escopos"
        self.stderr.write(f"API key '{name}' created ({scope_text}). It is shown only now; store it safely.")
        self.stdout.write(key)
