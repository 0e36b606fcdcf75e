"""Production settings refuse insecure configurations and pass the deployment check."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GOOD_KEY = "k3y-" + "x9Q2mZ7vL4pR8tB1nC6wE3yH5jK0sD" * 2


def run_manage(*args: str, **env: str) -> subprocess.CompletedProcess:
    # Only what the test sets: a developer's shell (or CI) may export DJANGO_* and CHATWOOT_* values of its own.
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "CHATWOOT_"))}
    environment.update({"DJANGO_SETTINGS_MODULE": "nexa.settings.production", **env})
    return subprocess.run(  # noqa: S603 - our own manage.py with arguments from the tests
        [sys.executable, "manage.py", *args], cwd=ROOT, env=environment, capture_output=True, text=True, check=False
    )


def test_production_refuses_debug():
    result = run_manage("check", DJANGO_SECRET_KEY=GOOD_KEY, DJANGO_DEBUG="true")
    assert result.returncode != 0
    assert "DJANGO_DEBUG" in result.stderr


def test_production_refuses_a_missing_secret_key():
    result = run_manage("check")
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY" in result.stderr


def test_production_refuses_a_short_secret_key():
    result = run_manage("check", DJANGO_SECRET_KEY="curta")
    assert result.returncode != 0


def test_deploy_check_reports_nothing():
    env = {
        "DJANGO_SECRET_KEY": GOOD_KEY,
        "DJANGO_DEBUG": "false",
        "DJANGO_ALLOWED_HOSTS": "nexa.exemplo.com.br",
        "CHATWOOT_BASE_URL": "https://chatwoot.exemplo.com.br",
        "CHATWOOT_WEBHOOK_SECRETS": "s3gredo",
    }
    result = run_manage("check", "--deploy", "--fail-level", "DEBUG", **env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "System check identified no issues (0 silenced)."
    assert result.stderr == ""
