"""Handoff app configuration."""

from django.apps import AppConfig


class HandoffConfig(AppConfig):
    name = "handoff"
    verbose_name = "Transferências para o Chatwoot"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from handoff import checks, receivers  # noqa: F401 - registers the checks, connects the receivers
