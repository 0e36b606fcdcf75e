"""Schemathesis against the app's own OpenAPI schema, in process: no 5xx, documented statuses, conforming bodies."""

from datetime import timedelta
from http import HTTPMethod

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from django.utils import timezone
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    ignored_auth,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.factories import LeadFactory

# The schema the app serves, fetched and exercised through Django's WSGI handler: no server, no network.
APP = get_wsgi_application()
schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", APP)
EXAMPLES_PER_OPERATION = 40  # generated ones, besides schemathesis' boundary cases: about 15 s on two cores

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
    ignored_auth,
]


@pytest.fixture
def fuzz_setup(api_key, settings):
    # A generous budget: 429 is documented, but here it would only hide the answers being checked.
    settings.API_RATE_LIMIT = "1000000/minute"
    # As Django's test client does: a request's start and end must not close the test's transaction-wrapped connection.
    for signal in (request_started, request_finished):
        signal.disconnect(close_old_connections)
    yield {"headers": {"Authorization": f"Bearer {api_key}"}, "lead": LeadFactory()}
    for signal in (request_started, request_finished):
        signal.connect(close_old_connections)


@schema.parametrize()
@hypothesis_settings(
    max_examples=EXAMPLES_PER_OPERATION,
    derandomize=True,  # the same examples on every run, in the same order, over the same database rows
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_every_operation_survives_fuzzing(case, fuzz_setup):
    case.call_and_validate(headers=fuzz_setup["headers"], checks=CHECKS)
    if "lead_id" in (case.path_parameters or {}):
        # Random UUIDs only reach the 404; the fixture's lead exercises the operation itself.
        case.path_parameters["lead_id"] = str(fuzz_setup["lead"].pk)
        case.call_and_validate(headers=fuzz_setup["headers"], checks=CHECKS)


OPERATIONS = [
    pytest.param(method.upper(), path, id=f"{method.upper()} {path}")
    for path, item in schema.raw_schema["paths"].items()
    if path.startswith("/api/v1/")
    for method in item
    if method.upper() in HTTPMethod.__members__
]


def test_the_schema_lists_every_api_operation():
    assert len(OPERATIONS) == 9


@pytest.mark.parametrize(("method", "path"), OPERATIONS)
def test_every_api_operation_documents_its_refusals(method, path):
    documented = set(schema.raw_schema["paths"][path][method.lower()]["responses"])
    assert {"400", "401", "413"} <= documented
    if path != "/api/v1/webhooks/chatwoot/":  # signed, not throttled, no session
        assert {"403", "429"} <= documented


# What the fuzzer found, kept as specifications.


@pytest.mark.django_db
def test_a_mangled_cursor_is_a_400_naming_the_parameter(api):
    response = api.get("/api/v1/leads/", {"cursor": "º\x0b©+"})
    assert response.status_code == 400
    assert response.json() == {"cursor": ["Cursor inválido."]}


def test_the_lead_list_is_documented_as_a_cursor_page():
    ok = schema.raw_schema["paths"]["/api/v1/leads/"]["get"]["responses"]["200"]["content"]["application/json"]
    page = schema.raw_schema["components"]["schemas"][ok["schema"]["$ref"].rsplit("/", 1)[-1]]
    assert set(page["properties"]) == {"next", "previous", "results"}


@pytest.mark.django_db
def test_a_cleared_email_is_answered_as_an_empty_string_the_schema_allows(api):
    lead = LeadFactory()
    response = api.patch(f"/api/v1/leads/{lead.pk}/", {"email": ""}, format="json")
    assert response.json()["email"] == ""
    assert "format" not in schema.raw_schema["components"]["schemas"]["Lead"]["properties"]["email"]


@pytest.mark.django_db
@pytest.mark.parametrize(
    "sent_at",
    [
        "0069-12-18T12:00:01Z",  # came back with São Paulo's local-mean-time offset, -03:06:28
        "9999-12-31T23:59:59-03:00",
        (timezone.now() + timedelta(days=3)).isoformat(),
        "1999-12-31T23:59:59Z",
    ],
)
def test_a_message_time_outside_2000_to_today_is_refused(api, sent_at):
    lead = LeadFactory()
    response = api.post(
        f"/api/v1/leads/{lead.pk}/messages/", {"sender": "lead", "content": "Oi", "created_at": sent_at}, format="json"
    )
    assert response.status_code == 400
    assert "created_at" in response.json()


@pytest.mark.django_db
def test_a_message_time_from_an_hour_ago_is_kept(api):
    lead = LeadFactory()
    sent_at = timezone.now() - timedelta(hours=1)
    response = api.post(
        f"/api/v1/leads/{lead.pk}/messages/",
        {"sender": "lead", "content": "Oi", "created_at": sent_at.isoformat()},
        format="json",
    )
    assert response.status_code == 201
    assert response.json()["messages"][0]["created_at"] == timezone.localtime(sent_at).isoformat()
