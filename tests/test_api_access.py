"""Authentication, body limits, the OpenAPI schema and the health probes."""

import pytest
from django.test import Client
from rest_framework.test import APIClient
from rest_framework_api_key.models import APIKey

from tests.factories import LeadFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/leads/"


def test_no_key_is_a_401_with_a_bearer_challenge(anonymous_api):
    response = anonymous_api.get(URL)
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize("header", ["Bearer nope.nope", "Bearer ", "Api-Key whatever", "Basic YWRtaW46YWRtaW4="])
def test_a_wrong_key_is_a_401(header):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=header)
    assert client.get(URL).status_code == 401


def test_a_revoked_key_is_a_401(api_key):
    key = APIKey.objects.get(name="atlas-nexa-test")
    key.revoked = True
    key.save()
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {api_key}")
    assert client.get(URL).status_code == 401


def test_keys_are_stored_hashed(api_key):
    stored = APIKey.objects.get(name="atlas-nexa-test")
    assert api_key.split(".")[1] not in stored.hashed_key


def test_a_staff_session_can_read_the_api(admin_client):
    LeadFactory()
    assert admin_client.get(URL).status_code == 200


def test_a_session_without_login_is_refused():
    assert Client().get(URL).status_code == 401


API_CALLS = [
    ("get", "/api/v1/leads/"),
    ("post", "/api/v1/leads/"),
    ("get", "/api/v1/leads/{id}/"),
    ("patch", "/api/v1/leads/{id}/"),
    ("post", "/api/v1/leads/{id}/messages/"),
    ("post", "/api/v1/handoffs/"),
]


@pytest.mark.parametrize(("method", "path"), API_CALLS)
def test_every_endpoint_refuses_a_caller_without_a_key(anonymous_api, method, path):
    lead = LeadFactory()
    response = getattr(anonymous_api, method)(path.format(id=lead.pk), {}, format="json")
    assert response.status_code == 401


@pytest.mark.parametrize(("method", "path"), [call for call in API_CALLS if call[0] != "get"])
def test_a_staff_session_cannot_write_through_the_api(method, path):
    from django.contrib.auth.models import Group, User

    manager = User.objects.create_user("gerente", is_staff=True)
    manager.groups.add(Group.objects.get(name="Managers"))
    client = APIClient(enforce_csrf_checks=False)
    client.force_login(manager)
    lead = LeadFactory()
    body = {"name": "X", "phone": "(21) 99812-3456", "sender": "bot", "content": "oi"}
    assert getattr(client, method)(path.format(id=lead.pk), body, format="json").status_code == 403


def test_a_logged_in_user_without_lead_permission_cannot_read():
    from django.contrib.auth.models import User

    client = APIClient()
    client.force_login(User.objects.create_user("curioso"))
    assert client.get("/api/v1/leads/").status_code == 403


SCOPE_OF = {
    ("get", "/api/v1/leads/"): "leads:read",
    ("post", "/api/v1/leads/"): "leads:write",
    ("get", "/api/v1/leads/{id}/"): "leads:read",
    ("patch", "/api/v1/leads/{id}/"): "leads:write",
    ("get", "/api/v1/leads/{id}/messages/"): "leads:read",
    ("post", "/api/v1/leads/{id}/messages/"): "leads:write",
    ("post", "/api/v1/handoffs/"): "leads:write",
    ("get", "/api/v1/metrics/"): "metrics:read",
}


def scoped_client(*scopes: str) -> APIClient:
    from leads.models import ApiKeyAccess

    api_key, key = APIKey.objects.create_key(name=f"scoped-{'-'.join(scopes)}")
    ApiKeyAccess.objects.create(api_key=api_key, scopes=list(scopes))
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    return client


@pytest.mark.parametrize(("method", "path"), list(SCOPE_OF))
def test_a_key_without_the_operations_scope_gets_a_403_naming_it_and_nothing_changes(method, path):
    from leads.models import Lead

    lead = LeadFactory(name="Original")
    others = [scope for scope in ("leads:read", "leads:write", "metrics:read") if scope != SCOPE_OF[method, path]]
    body = {"name": "Mudado", "phone": "(21) 99812-3456", "sender": "bot", "content": "oi"}
    response = getattr(scoped_client(*others), method)(path.format(id=lead.pk), body, format="json")
    assert response.status_code == 403
    assert response.json()["missing_scope"] == SCOPE_OF[method, path]
    assert SCOPE_OF[method, path] in response.json()["detail"]
    assert list(Lead.objects.values_list("name", flat=True)) == ["Original"]


@pytest.mark.parametrize(("method", "path"), list(SCOPE_OF))
def test_a_key_with_the_operations_scope_may_use_it(method, path):
    lead = LeadFactory(phone="+5521998123456")
    body = {
        ("post", "/api/v1/leads/"): {"name": "Mudado", "phone": "(21) 99812-3456", "qualification_score": 3},
        ("post", "/api/v1/handoffs/"): {"name": "Mudado", "phone": "(21) 99812-3456", "qualification_score": 3},
        ("patch", "/api/v1/leads/{id}/"): {"name": "Mudado"},
        ("post", "/api/v1/leads/{id}/messages/"): {"sender": "bot", "content": "oi"},
    }.get((method, path), {})
    response = getattr(scoped_client(SCOPE_OF[method, path]), method)(path.format(id=lead.pk), body, format="json")
    assert response.status_code in (200, 201, 202), response.content


def test_an_operation_no_scope_opens_is_closed_to_a_scoped_key():
    response = scoped_client("leads:read", "leads:write", "metrics:read").options("/api/v1/handoffs/")
    assert response.status_code == 403 and "missing_scope" not in response.json()


def test_a_key_made_without_scopes_may_do_everything(api):
    lead = LeadFactory()
    assert api.get("/api/v1/metrics/").status_code == 200
    assert api.patch(f"/api/v1/leads/{lead.pk}/", {"name": "Novo"}, format="json").status_code == 200


def test_every_api_view_names_the_scope_of_each_method_it_answers():
    from django.urls import get_resolver

    from handoff.webhooks import ChatwootWebhookView

    def views(patterns):
        for pattern in patterns:
            if hasattr(pattern, "url_patterns"):
                yield from views(pattern.url_patterns)
            elif hasattr(pattern.callback, "view_class"):
                yield pattern.callback.view_class

    api_views = {view for view in views(get_resolver().url_patterns) if view.__module__.endswith(".api")}
    assert len(api_views) >= 5
    for view in api_views - {ChatwootWebhookView}:
        answered = {method.upper() for method in ("get", "post", "patch", "put", "delete") if hasattr(view, method)}
        assert answered == set(view.required_scopes), view


def test_the_schema_names_each_operations_scope():
    import json

    schema = json.loads(Client().get("/api/schema/", HTTP_ACCEPT="application/json").content)
    assert schema["paths"]["/api/v1/leads/"]["get"]["x-required-scope"] == "leads:read"
    assert schema["paths"]["/api/v1/handoffs/"]["post"]["x-required-scope"] == "leads:write"
    assert schema["paths"]["/api/v1/metrics/"]["get"]["x-required-scope"] == "metrics:read"
    assert "missing_scope" in schema["paths"]["/api/v1/leads/"]["post"]["responses"]["403"]["description"]


def test_an_oversize_body_is_a_413_and_writes_nothing(api, settings):
    settings.API_MAX_BODY_BYTES = 1000
    response = api.post(URL, {"name": "x" * 2000, "phone": "(11) 98765-4321"}, format="json")
    assert response.status_code == 413
    from leads.models import Lead

    assert Lead.objects.count() == 0


def test_schema_describes_every_endpoint():
    response = Client().get("/api/schema/", HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    import json

    schema = json.loads(response.content)
    assert {
        "/api/v1/leads/",
        "/api/v1/leads/{lead_id}/",
        "/api/v1/leads/{lead_id}/messages/",
        "/api/v1/handoffs/",
    } <= set(schema["paths"])
    assert "401" in schema["paths"]["/api/v1/leads/"]["post"]["responses"]
    security = schema["components"]["securitySchemes"]["apiKey"]
    assert (security["type"], security["scheme"]) == ("http", "bearer")
    assert "`leads:write`" in security["description"] and "create_api_key NAME [--scopes" in security["description"]


def test_docs_are_served_without_a_cdn():
    response = Client().get("/api/docs/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "cdn.jsdelivr" not in html and "unpkg.com" not in html
    assert "/static/drf_spectacular_sidecar/" in html


def test_healthz_answers():
    assert Client().get("/healthz").json() == {"status": "ok"}


def test_readyz_checks_the_database():
    response = Client().get("/readyz")
    assert response.status_code == 200
    assert response.json()["database"] == "ok"


def test_readyz_is_503_when_the_database_is_unreachable(monkeypatch):
    from django.db import OperationalError, connection

    def broken_cursor(*args, **kwargs):
        raise OperationalError("connection refused")

    monkeypatch.setattr(connection, "cursor", broken_cursor)
    assert Client().get("/readyz").status_code == 503
