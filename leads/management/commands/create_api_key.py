"""Create an API key for a client such as Atlas Nexa; the key is printed once and stored hashed."""

from django.core.management.base import BaseCommand
from rest_framework_api_key.models import APIKey


class Command(BaseCommand):
    help = "Create an API key and print it once. Revoke keys in the admin (API Key Permissions → API keys)."

    def add_arguments(self, parser):
        parser.add_argument("name", help="Who uses the key, e.g. 'atlas-nexa-prod'.")

    def handle(self, *args, name: str, **options):
        _, key = APIKey.objects.create_key(name=name)
        self.stderr.write(f"API key '{name}' created. It is shown only now; store it safely.")
        self.stdout.write(key)
