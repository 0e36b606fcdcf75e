"""Leads app configuration."""

from django.apps import AppConfig


class LeadsConfig(AppConfig):
    name = "leads"
    verbose_name = "Leads"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from leads import schema  # noqa: F401 - registers the OpenAPI description of API keys
