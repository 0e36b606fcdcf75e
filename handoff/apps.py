"""Handoff app configuration."""

import logging

from django.apps import AppConfig
from django.conf import settings
from django.utils.translation import gettext_lazy as _

logger = logging.getLogger(__name__)


class HandoffConfig(AppConfig):
    name = "handoff"
    verbose_name = _("Handoffs to Chatwoot")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from handoff import checks, receivers  # noqa: F401 - registers the checks, connects the receivers

        if settings.CHATWOOT_WEBHOOK_URL_TOKEN:
            # System checks do not run under gunicorn or the worker: say it in every process's log (never the token).
            logger.warning(
                "CHATWOOT_WEBHOOK_URL_TOKEN is set: unsigned Chatwoot webhooks carrying ?token= are accepted. "
                "A URL token is weaker than signatures (it shows in access logs and signs nothing); use it only "
                "for Chatwoot older than 4.11.2 and remove it after upgrading (API-NOTES F.6)."
            )
