"""Shared fixtures: API clients with and without a key, and a staff browser."""

import pytest
from django.db import connection
from rest_framework.test import APIClient
from rest_framework_api_key.models import APIKey


@pytest.fixture
def api_key(db) -> str:
    _, key = APIKey.objects.create_key(name="atlas-nexa-test")
    return key


@pytest.fixture
def api(api_key) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {api_key}")
    return client


@pytest.fixture
def manager(client):
    """A staff member of the Managers group, logged in."""
    from django.contrib.auth.models import Group, User

    user = User.objects.create_user("gerente", password="senha-forte-123", is_staff=True)
    user.groups.add(Group.objects.get(name="Managers"))
    client.force_login(user)
    return client


@pytest.fixture
def anonymous_api() -> APIClient:
    return APIClient()


@pytest.fixture
def postgres_only():
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL (run with DATABASE_URL=postgres://…)")


@pytest.fixture
def sandbox():
    """A faithful Chatwoot (chatwoot_sandbox) on a free local port."""
    from chatwoot_sandbox import Sandbox

    with Sandbox(token="sandbox-token", account_id=1, inbox_id=1).start() as running:
        yield running


@pytest.fixture
def chatwoot(sandbox, settings):
    """Nexa configured against the sandbox, with fast retries for tests."""
    settings.CHATWOOT_BASE_URL = sandbox.base_url
    settings.CHATWOOT_ACCOUNT_ID = 1
    settings.CHATWOOT_API_TOKEN = "sandbox-token"
    settings.CHATWOOT_INBOX_ID = 1
    settings.CHATWOOT_READ_TIMEOUT = 2
    settings.HANDOFF_RETRY_BASE_SECONDS = 1
    settings.HANDOFF_STEP_RETRY_SECONDS = 0.01
    settings.REDIS_URL = ""
    from django.core.cache import cache

    from handoff.models import ChatwootInbox

    cache.clear()
    # Nexa knows the sandbox's default inbox as a refresh (GET /inboxes) would have stored it.
    ChatwootInbox.objects.update_or_create(
        pk=1, defaults={"name": "Atlas Nexa", "kind": ChatwootInbox.Kind.API, "channel_type": "Channel::Api"}
    )
    return sandbox


@pytest.fixture
def faults(monkeypatch):
    """Install precise faults on every Chatwoot client Nexa builds: faults.add(Rule(...))."""
    from handoff.services import chatwoot
    from tests.chatwoot_faults import FaultyTransport

    transport = FaultyTransport([])

    class FaultyClient(chatwoot.ChatwootClient):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.session.mount("http://", transport)

    monkeypatch.setattr(chatwoot, "ChatwootClient", FaultyClient)  # the one factory builds every client
    transport.add = transport.rules.append
    return transport


@pytest.fixture
def receiver():
    """A subscriber for Nexa's events, listening locally, with a secret of its own (tests/event_receiver.py)."""
    from outbound.signing import secret_generate
    from tests.event_receiver import EventReceiver

    receiver = EventReceiver(secret=secret_generate()).start()
    yield receiver
    receiver.stop()
