"""Prepare a first run: a demo admin login and a handful of realistic leads."""

import secrets

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

from leads.demo import demo_leads_load


class Command(BaseCommand):
    help = "Create (or reset) the demo admin login, print it, and load the demo leads. For local runs only."

    def add_arguments(self, parser):
        parser.add_argument("--username", default="admin")
        parser.add_argument("--password", help="Default: a new random password, printed.")

    def handle(self, *args, username: str, password: str | None, **options):
        password = password or secrets.token_urlsafe(9)
        user, _ = get_user_model().objects.get_or_create(username=username)
        user.is_staff = user.is_superuser = True
        user.set_password(password)
        user.save()
        count = demo_leads_load()
        self.stdout.write(self.style.SUCCESS(f"{count} demo leads loaded."))
        self.stdout.write(self.style.SUCCESS(f"Demo admin login → user: {username}  password: {password}"))
