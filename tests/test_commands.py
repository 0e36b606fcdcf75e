"""Management commands: API keys, the demo set-up, bulk data."""

import io

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from rest_framework.test import APIClient

from leads.models import BotConversation, Lead, Message

pytestmark = pytest.mark.django_db


def test_create_api_key_prints_a_key_that_works():
    out = io.StringIO()
    call_command("create_api_key", "atlas-nexa", stdout=out, stderr=io.StringIO())
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {out.getvalue().strip()}")
    assert client.get("/api/v1/leads/").status_code == 200


def test_create_api_key_with_scopes_makes_a_key_that_may_do_only_that():
    from leads.models import ApiKeyAccess

    out, err = io.StringIO(), io.StringIO()
    call_command("create_api_key", "n8n-leitura", "--scopes", "metrics:read, leads:read", stdout=out, stderr=err)
    assert ApiKeyAccess.objects.get(api_key__name="n8n-leitura").scopes == ["leads:read", "metrics:read"]
    assert "leads:read, metrics:read" in err.getvalue()
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {out.getvalue().strip()}")
    assert client.get("/api/v1/leads/").status_code == 200
    refused = client.post("/api/v1/leads/", {"name": "X", "phone": "(21) 99812-3456"}, format="json")
    assert refused.status_code == 403 and refused.json()["missing_scope"] == "leads:write"


@pytest.mark.parametrize("scopes", ["leads:delete", "leads:read,admin", " , "])
def test_create_api_key_refuses_an_unknown_or_empty_scope_and_creates_nothing(scopes):
    from django.core.management import CommandError
    from rest_framework_api_key.models import APIKey

    with pytest.raises(CommandError, match="--scopes"):
        call_command("create_api_key", "errada", "--scopes", scopes, stdout=io.StringIO(), stderr=io.StringIO())
    assert not APIKey.objects.exists()


def test_demo_setup_creates_the_admin_and_demo_leads_and_can_run_again():
    out = io.StringIO()
    call_command("demo_setup", stdout=out)
    call_command("demo_setup", "--password", "demo-senha-123", stdout=out)
    assert "password: demo-senha-123" in out.getvalue()
    assert User.objects.get(username="admin").check_password("demo-senha-123")
    assert Lead.objects.count() == 6
    assert Message.objects.filter(conversation__lead__external_id="atlas-demo-001").count() == 6
    assert Lead.objects.filter(status=Lead.Status.QUALIFICADO).count() == 3


def test_demo_setup_prints_a_working_api_key_and_revokes_the_previous_one():
    keys = []
    for _ in range(2):
        out = io.StringIO()
        call_command("demo_setup", stdout=out)
        keys.append(out.getvalue().split("Bearer ")[1].split()[0])
    old, new = (APIClient(), APIClient())
    old.credentials(HTTP_AUTHORIZATION=f"Bearer {keys[0]}")
    new.credentials(HTTP_AUTHORIZATION=f"Bearer {keys[1]}")
    assert old.get("/api/v1/leads/").status_code == 401
    assert new.get("/api/v1/leads/").status_code == 200


def test_seed_bulk_inserts_leads_with_conversations_and_consistent_counts():
    out = io.StringIO()
    call_command("seed_bulk", "120", "--messages-per-lead", "2.5", stdout=out)
    call_command("seed_bulk", "30", stdout=out)
    assert Lead.objects.count() == 150
    assert "120/120" in out.getvalue()
    conversation = BotConversation.objects.filter(messages_count__gt=0).first()
    assert conversation.messages.count() == conversation.messages_count
    total = sum(BotConversation.objects.values_list("messages_count", flat=True))
    assert total == Message.objects.count() > 250
    assert Lead.objects.values("phone_identity").distinct().count() == 150


def test_seed_bulk_spreads_creation_dates_over_the_requested_days():
    from datetime import timedelta

    from django.utils import timezone

    call_command("seed_bulk", "200", "--days", "30", "--messages-per-lead", "1", stdout=io.StringIO())
    oldest = Lead.objects.order_by("created_at").first().created_at
    assert timezone.now() - timedelta(days=31) < oldest < timezone.now() - timedelta(days=15)
    conversation = BotConversation.objects.select_related("lead").filter(messages_count=1).first()
    assert conversation.started_at == conversation.lead.created_at
    assert conversation.last_message_at == conversation.messages.get().created_at
