"""Outbound events app configuration."""

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class OutboundConfig(AppConfig):
    name = "outbound"
    verbose_name = _("Events for integrations")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from outbound import receivers  # noqa: F401 - connects the receivers
