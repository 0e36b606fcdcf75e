"""`manage.py chatwoot_sandbox`: the development-only Chatwoot sandbox (never in the production image)."""

from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = "Serve a faithful in-memory Chatwoot v4.15.1 API (development and tests only; see chatwoot_sandbox/)."
    requires_system_checks = []
    requires_migrations_checks = False

    def add_arguments(self, parser):
        try:
            from chatwoot_sandbox.cli import parser_build
        except ImportError:  # the production image leaves the sandbox out
            return
        parser_build(parser)

    def handle(self, *args, **options):
        try:
            from chatwoot_sandbox.cli import sandbox_from_options, serve
        except ImportError as error:
            raise CommandError("The Chatwoot sandbox is not installed here (it never ships in the image).") from error
        try:
            sandbox = sandbox_from_options(options)
            serve(sandbox, host=options["host"], port=options["port"], say=self.stdout.write)
        except (ValueError, OSError) as error:
            raise CommandError(f"Chatwoot sandbox: {error}") from error
