"""The Chatwoot client: headers, timeouts, typed errors for every status class, and the audit record."""

import pytest
import requests
import responses

from handoff.chatwoot import (
    ChatwootAuthError,
    ChatwootClient,
    ChatwootConfigurationError,
    ChatwootError,
    ChatwootNotFound,
    ChatwootPermanentError,
    ChatwootRateLimited,
    ChatwootSettings,
    ChatwootTimeout,
    ChatwootTransientError,
)

BASE = "https://chatwoot.exemplo.com.br"
ACCOUNT = f"{BASE}/api/v1/accounts/1"
TOKEN = "s3cr3t-user-token"


@pytest.fixture
def calls():
    return []


@pytest.fixture
def client(calls):
    settings = ChatwootSettings(base_url=BASE, account_id=1, api_token=TOKEN, inbox_id=3, read_timeout=2)
    return ChatwootClient(settings, on_call=calls.append)


CONTACT = {
    "id": 42,
    "name": "Maria Silva",
    "email": "maria@exemplo.com.br",
    "phone_number": "+5511987654321",
    "identifier": "nexa-lead-1",
    "custom_attributes": {"source": "atlas_nexa"},
    "contact_inboxes": [{"source_id": "nexa-1", "inbox": {"id": 3, "name": "Atlas"}}],
}


@responses.activate
def test_the_token_goes_in_the_api_access_token_header_never_bearer(client):
    responses.post(f"{ACCOUNT}/contacts/filter", json={"meta": {"count": 0}, "payload": []})
    client.contacts_filter([("phone_number", "+5511987654321")])
    sent = responses.calls[0].request
    assert sent.headers["api-access-token"] == TOKEN
    assert "Authorization" not in sent.headers
    assert sent.headers["User-Agent"].startswith("Nexa/")


@responses.activate
def test_filter_ors_the_conditions(client):
    responses.post(f"{ACCOUNT}/contacts/filter", json={"meta": {"count": 1}, "payload": [CONTACT]})
    found = client.contacts_filter([("identifier", "nexa-lead-1"), ("phone_number", "+5511987654321")])
    import json

    payload = json.loads(responses.calls[0].request.body)["payload"]
    assert [c["query_operator"] for c in payload] == ["OR", None]
    assert found[0].id == 42
    assert found[0].source_id_for(3) == "nexa-1"


@responses.activate
def test_contact_create_reads_the_double_wrapper(client):
    body = {"payload": {"contact": CONTACT, "contact_inbox": {"inbox": {"id": 3}, "source_id": "nexa-1"}}}
    responses.post(f"{ACCOUNT}/contacts", json=body, status=200)
    contact, source_id = client.contact_create(inbox_id=3, source_id="nexa-1", name="Maria Silva")
    assert (contact.id, source_id) == (42, "nexa-1")


@responses.activate
def test_conversation_reads_display_id_assignee_and_team(client):
    conversation = {
        "id": 128,
        "inbox_id": 3,
        "status": "open",
        "custom_attributes": {"handoff_id": "h1"},
        "labels": ["vip"],
        "meta": {"assignee": {"id": 7, "name": "Ana Costa"}, "assignee_type": "User", "team": {"id": 2}},
        "messages": [{"id": 2001, "content": "nota", "private": True}],
    }
    responses.get(f"{ACCOUNT}/conversations/128", json=conversation)
    got = client.conversation_get(128)
    assert (got.id, got.assignee_id, got.assignee_name, got.team_id, got.messages[0].id) == (
        128,
        7,
        "Ana Costa",
        2,
        2001,
    )


@pytest.mark.parametrize(
    ("status", "body", "error"),
    [
        (401, {"error": "Invalid Access Token"}, ChatwootAuthError),
        (404, {"error": "Resource could not be found"}, ChatwootNotFound),
        (
            422,
            {"message": "Phone number has already been taken", "attributes": ["phone_number"]},
            ChatwootPermanentError,
        ),
        (400, {"error": "bad"}, ChatwootPermanentError),
        (500, {"status": 500, "error": "Internal Server Error"}, ChatwootTransientError),
        (502, "<html>Bad gateway</html>", ChatwootTransientError),
        (503, "", ChatwootTransientError),
    ],
)
@responses.activate
def test_each_status_class_raises_its_typed_error(client, status, body, error):
    kwargs = {"json": body} if isinstance(body, dict) else {"body": body}
    responses.post(f"{ACCOUNT}/contacts", status=status, **kwargs)
    with pytest.raises(error) as raised:
        client.contact_create(inbox_id=3, source_id="x")
    assert raised.value.status == status


@responses.activate
def test_a_422_carries_chatwoots_attributes(client):
    body = {
        "message": "Email has already been taken, Phone number has already been taken",
        "attributes": ["email", "phone_number"],
    }
    responses.post(f"{ACCOUNT}/contacts", status=422, json=body)
    with pytest.raises(ChatwootPermanentError) as raised:
        client.contact_create(inbox_id=3, source_id="x")
    assert raised.value.attributes == ["email", "phone_number"]
    assert "already been taken" in str(raised.value)


@responses.activate
def test_a_429_in_plain_text_is_rate_limited_and_transient(client):
    responses.post(f"{ACCOUNT}/contacts", status=429, body="Retry later\n", content_type="text/plain")
    with pytest.raises(ChatwootRateLimited) as raised:
        client.contact_create(inbox_id=3, source_id="x")
    assert isinstance(raised.value, ChatwootTransientError)


@responses.activate
def test_a_read_timeout_is_transient_and_ambiguous(client):
    responses.post(f"{ACCOUNT}/contacts", body=requests.ReadTimeout("slow"))
    with pytest.raises(ChatwootTimeout) as raised:
        client.contact_create(inbox_id=3, source_id="x")
    assert raised.value.ambiguous is True


@responses.activate
def test_a_connect_timeout_is_not_ambiguous(client):
    responses.post(f"{ACCOUNT}/contacts", body=requests.ConnectTimeout("no route"))
    with pytest.raises(ChatwootTimeout) as raised:
        client.contact_create(inbox_id=3, source_id="x")
    assert raised.value.ambiguous is False


@responses.activate
def test_a_refused_connection_is_transient(client):
    responses.post(f"{ACCOUNT}/contacts", body=requests.ConnectionError("Connection refused"))
    with pytest.raises(ChatwootTransientError):
        client.contact_create(inbox_id=3, source_id="x")


@responses.activate
def test_a_redirect_is_not_followed(client):
    responses.get(f"{ACCOUNT}/conversations/1", status=302, headers={"Location": "https://evil.example/steal"})
    with pytest.raises(ChatwootPermanentError):
        client.conversation_get(1)
    assert len(responses.calls) == 1


def test_timeouts_are_always_set(client, monkeypatch):
    seen = {}

    def fake_request(method, url, **kwargs):
        seen.update(kwargs)
        raise requests.ConnectionError("Connection refused")

    monkeypatch.setattr(client.session, "request", fake_request)
    with pytest.raises(ChatwootTransientError):
        client.agents()
    assert seen["timeout"] == (3.05, 2)


@responses.activate
def test_every_call_is_recorded_without_the_token(client, calls):
    responses.post(f"{ACCOUNT}/contacts", status=422, json={"message": "taken", "attributes": ["email"]})
    with pytest.raises(ChatwootPermanentError):
        client.contact_create(inbox_id=3, source_id="x", name="Maria")
    record = calls[0]
    assert (record.method, record.path, record.status, record.error_class) == (
        "POST",
        "/contacts",
        422,
        "ChatwootPermanentError",
    )
    assert record.request["name"] == "Maria"
    assert TOKEN not in repr(record)


@responses.activate
def test_a_failed_connection_is_recorded_too(client, calls):
    responses.get(f"{ACCOUNT}/agents", body=requests.ConnectionError("Connection refused"))
    with pytest.raises(ChatwootTransientError):
        client.agents()
    assert calls[0].status is None
    assert calls[0].error_class == "ChatwootConnectionError"


def test_before_call_can_stop_a_request(client):
    class Later(Exception):
        pass

    def deny():
        raise Later

    client.before_call = deny
    with pytest.raises(Later):
        client.agents()


def test_missing_settings_are_a_configuration_error_outside_the_error_tree():
    with pytest.raises(ChatwootConfigurationError) as raised:
        ChatwootClient(ChatwootSettings(base_url="", account_id=1, api_token="t", inbox_id=1))
    assert not isinstance(raised.value, ChatwootError)


def test_settings_never_show_the_token():
    settings = ChatwootSettings(base_url=BASE, account_id=1, api_token=TOKEN, inbox_id=3)
    assert TOKEN not in repr(settings) and TOKEN not in str(settings)


@responses.activate
def test_inbox_members_and_bare_arrays(client):
    agent = {"id": 7, "name": "Ana", "available_name": "Ana Costa", "role": "agent", "availability_status": "online"}
    responses.get(f"{ACCOUNT}/inbox_members/3", json={"payload": [agent]})
    responses.get(f"{ACCOUNT}/agents", json=[agent])
    responses.get(f"{ACCOUNT}/teams/2/team_members", json=[agent])
    assert client.inbox_members(3)[0].name == "Ana Costa"
    assert client.agents()[0].availability_status == "online"
    assert client.team_members(2)[0].id == 7


@responses.activate
def test_labels_and_assignment_shapes(client):
    responses.get(f"{ACCOUNT}/conversations/128/labels", json={"payload": ["vip"]})
    responses.post(f"{ACCOUNT}/conversations/128/labels", json={"payload": ["vip", "atlas-nexa"]})
    responses.post(
        f"{ACCOUNT}/conversations/128/assignments",
        json={"id": 7, "name": "Ana Costa", "role": "agent", "availability_status": "online"},
    )
    assert client.conversation_labels(128) == ["vip"]
    assert client.conversation_labels_set(128, ["vip", "atlas-nexa"]) == ["vip", "atlas-nexa"]
    assert client.conversation_assign_agent(128, 7).id == 7


@responses.activate
def test_unassigning_answers_null(client):
    responses.post(f"{ACCOUNT}/conversations/128/assignments", body="null", content_type="application/json")
    assert client.conversation_assign_agent(128, 999) is None


@responses.activate
def test_a_401_that_echoes_the_token_names_no_token(client, calls):
    responses.get(f"{ACCOUNT}/agents", status=401, json={"error": f"Invalid Access Token {TOKEN}"})
    with pytest.raises(ChatwootAuthError) as refused:
        client.agents()
    assert "401" in str(refused.value) and TOKEN not in str(refused.value)
    assert TOKEN not in calls[0].response


@responses.activate
def test_an_error_page_that_echoes_the_token_names_no_token(client, calls):
    page = "<html>" + "x" * 268 + f"api_access_token: {TOKEN}</html>"  # the token straddles the 300-character cut
    assert page.index(TOKEN) < 300 < page.index(TOKEN) + len(TOKEN)
    responses.get(f"{ACCOUNT}/agents", status=502, body=page, content_type="text/html")
    with pytest.raises(ChatwootTransientError) as failed:
        client.agents()
    assert TOKEN[:8] not in str(failed.value) and "[token]" in str(failed.value)
    assert TOKEN not in calls[0].response


@responses.activate
def test_the_profile_keeps_its_access_token_out_of_the_audit(client, calls):
    profile = {"id": 1, "name": "Admin", "access_token": TOKEN, "accounts": [{"id": 1, "role": "administrator"}]}
    responses.get(f"{BASE}/api/v1/profile", json=profile)
    assert client.profile().account_roles == {1: "administrator"}
    assert TOKEN not in calls[0].response and "[token]" in calls[0].response
