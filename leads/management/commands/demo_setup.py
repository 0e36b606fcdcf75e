"""Prepare a first run: a demo admin login and a handful of realistic leads."""

import secrets
import time

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from rest_framework_api_key.models import APIKey

from handoff.services.chatwoot import CHATWOOT_UNAVAILABLE
from handoff.services.inboxes import inboxes_refresh
from leads.demo import demo_leads_load

DEMO_KEY_NAME = "demo (make run)"


class Command(BaseCommand):
    help = (
        "Create (or reset) the demo admin login and a demo API key, print both, and load the demo leads. "
        "For local runs only."
    )

    def add_arguments(self, parser):
        parser.add_argument("--username", default="admin")
        parser.add_argument("--password", help="Default: a new random password, printed.")
        parser.add_argument(
            "--fresh-sandbox",
            action="store_true",
            help="Chatwoot is a new, empty sandbox: hand the qualified demo leads off to it again.",
        )

    def handle(self, *args, username: str, password: str | None, fresh_sandbox: bool, **options):
        password = password or secrets.token_urlsafe(9)
        user, _ = get_user_model().objects.get_or_create(username=username)
        user.is_staff = user.is_superuser = True
        user.set_password(password)
        user.save()
        # Keys are stored hashed, so the demo key is replaced on every run to be printable.
        APIKey.objects.filter(name=DEMO_KEY_NAME, revoked=False).update(revoked=True)
        _, key = APIKey.objects.create_key(name=DEMO_KEY_NAME)
        if fresh_sandbox:
            self._inboxes_read()
        count = demo_leads_load(fresh=fresh_sandbox)
        self.stdout.write(self.style.SUCCESS(f"{count} demo leads loaded."))
        self.stdout.write(self.style.SUCCESS(f"Demo admin login → user: {username}  password: {password}"))
        self.stdout.write(self.style.SUCCESS(f"Demo API key → Authorization: Bearer {key}"))

    def _inboxes_read(self) -> None:
        """The sandbox was started a moment ago: read its WhatsApp inboxes once it answers."""
        for _ in range(20):
            try:
                inboxes = inboxes_refresh()
            except CHATWOOT_UNAVAILABLE:
                time.sleep(0.5)
                continue
            names = ", ".join(f"{inbox.pk} {inbox.name}" for inbox in inboxes)
            self.stdout.write(f"Chatwoot inboxes: {names}")
            return
        self.stdout.write("The Chatwoot sandbox did not answer: demo leads go to the default inbox.")
