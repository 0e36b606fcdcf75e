"""Start-up checks of the handoff and webhook settings (`manage.py check` and every start)."""

from django.conf import settings
from django.core.checks import Error, Warning, register


@register()
def handoff_settings_check(app_configs, **kwargs):
    problems = []
    timeout = settings.Q_CLUSTER.get("timeout") or 0
    if timeout >= settings.HANDOFF_LEASE_SECONDS:
        problems.append(
            Error(
                f"HANDOFF_LEASE_SECONDS ({settings.HANDOFF_LEASE_SECONDS}) must exceed the worker's task timeout "
                f"({timeout}), or a second worker could take a handoff whose first worker is still running.",
                id="handoff.E001",
            )
        )
    if not settings.CHATWOOT_WEBHOOK_SECRETS and not settings.CHATWOOT_WEBHOOK_URL_TOKEN:
        problems.append(
            Warning(
                "CHATWOOT_WEBHOOK_SECRETS is empty: every Chatwoot webhook will be refused (401).",
                hint="Copy the webhook's secret from Chatwoot (Configurações → Integrações → Webhooks).",
                id="handoff.W001",
            )
        )
    if settings.HANDOFF_RETURNING_POLICY not in ("handoff", "bot"):
        problems.append(
            Error(
                f"HANDOFF_RETURNING_POLICY is {settings.HANDOFF_RETURNING_POLICY!r}.",
                hint='Use "handoff" (a returning lead goes back to its agent) or "bot" (Atlas answers it).',
                id="handoff.E002",
            )
        )
    out_of_range = [
        f"{name}={getattr(settings, name)}"
        for name, lowest in (
            ("HANDOFF_THREADS", 1),
            ("HANDOFF_STEP_RETRIES", 0),
            ("HANDOFF_STEP_RETRY_SECONDS", 0),
            ("CHATWOOT_PAUSE_ON_429_SECONDS", 0.01),
        )
        if getattr(settings, name) < lowest
    ]
    if out_of_range:
        problems.append(
            Error(
                f"Out of range: {', '.join(out_of_range)}.",
                hint="HANDOFF_THREADS at least 1 (with none, no handoff would ever run); the retries and pauses not "
                "negative, and the pause after a 429 more than zero.",
                id="handoff.E003",
            )
        )
    if not 0 <= settings.HANDOFF_CALIBRATION_SHARE <= 1:
        problems.append(
            Error(
                f"HANDOFF_CALIBRATION_SHARE is {settings.HANDOFF_CALIBRATION_SHARE}.",
                hint="A share between 0 (off) and 1: 0.05 hands off 5% of the leads scored just below the threshold.",
                id="handoff.E004",
            )
        )
    if settings.CHATWOOT_WEBHOOK_URL_TOKEN:
        problems.append(
            Warning(
                "CHATWOOT_WEBHOOK_URL_TOKEN is set: unsigned webhooks carrying ?token= in the URL are accepted.",
                hint="Only for Chatwoot older than 4.11.2, which signs nothing; upgrade and remove it.",
                id="handoff.W002",
            )
        )
    return problems
