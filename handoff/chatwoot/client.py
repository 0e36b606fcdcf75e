"""A thin, typed client for the parts of Chatwoot's Application API the handoff uses (never touches the ORM).

Every fact about Chatwoot's behaviour cited here is in ../shared/chatwoot/API-NOTES.md, by section.
"""

import ipaddress
import json
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

USER_AGENT = "Nexa/1.0 (+handoff)"
RECORD_LIMIT = 4000


class ChatwootConfigurationError(Exception):
    """Nexa is not configured to reach Chatwoot; retrying cannot help. Deliberately outside the error tree."""


class ChatwootError(Exception):
    """A Chatwoot call failed; carries what Chatwoot answered, if anything."""

    def __init__(self, message: str, *, status: int | None = None, body: Any = None, method: str = "", path: str = ""):
        super().__init__(message)
        self.status = status
        self.body = body
        self.method = method
        self.path = path


class ChatwootTransientError(ChatwootError):
    """Worth retrying later: timeouts, connection errors, 5xx, 429."""

    ambiguous = False  # True when Chatwoot may have done the work although we saw no answer


class ChatwootTimeout(ChatwootTransientError):
    ambiguous = True


class ChatwootConnectionError(ChatwootTransientError):
    """The connection failed; `ambiguous` when it broke after the request was sent."""

    def __init__(self, *args, ambiguous: bool, **kwargs):
        super().__init__(*args, **kwargs)
        self.ambiguous = ambiguous


class ChatwootRateLimited(ChatwootTransientError):
    """429: G says no Retry-After is sent, so the caller backs off on its own clock."""


class ChatwootPermanentError(ChatwootError):
    """A 4xx other than 401/429: retrying the same request gives the same answer."""

    @property
    def attributes(self) -> list[str]:
        """The fields a 422 names (B.2: key on `attributes`, never on the localised `message`)."""
        if isinstance(self.body, dict) and isinstance(self.body.get("attributes"), list):
            return [str(name) for name in self.body["attributes"]]
        return []


class ChatwootNotFound(ChatwootPermanentError):
    pass


class ChatwootAuthError(ChatwootError):
    """401: wrong, revoked or bot/platform token, or a role that may not do this (A, I)."""


def private_network_allowed() -> bool:
    """The deployment's CHATWOOT_ALLOW_PRIVATE_NETWORK, for callers that do not say; False outside Django."""
    from django.conf import settings

    return settings.configured and bool(getattr(settings, "CHATWOOT_ALLOW_PRIVATE_NETWORK", False))


@dataclass(frozen=True)
class ChatwootSettings:
    base_url: str
    account_id: int
    api_token: str
    inbox_id: int
    connect_timeout: float = 3.05
    read_timeout: float = 10.0
    allow_private_network: bool = field(default_factory=private_network_allowed)

    def __repr__(self) -> str:  # never print the token
        return f"ChatwootSettings(base_url={self.base_url!r}, account_id={self.account_id}, inbox_id={self.inbox_id})"


@dataclass(frozen=True)
class CallRecord:
    """One HTTP call, for the audit: the request without headers (the token lives only there)."""

    method: str
    path: str
    status: int | None
    duration_ms: int
    request: Any
    response: str
    error_class: str


@dataclass(frozen=True)
class ContactInbox:
    inbox_id: int
    source_id: str


@dataclass(frozen=True)
class Contact:
    id: int
    name: str
    email: str
    phone_number: str
    identifier: str
    custom_attributes: dict
    contact_inboxes: list[ContactInbox] = field(default_factory=list)

    def source_id_for(self, inbox_id: int) -> str | None:
        return next((ci.source_id for ci in self.contact_inboxes if ci.inbox_id == inbox_id), None)


@dataclass(frozen=True)
class Message:
    id: int
    content: str
    private: bool


@dataclass(frozen=True)
class Conversation:
    id: int  # the display id (C.0): the one every URL and webhook uses
    inbox_id: int
    status: str
    custom_attributes: dict
    labels: list[str]
    assignee_id: int | None
    assignee_name: str
    team_id: int | None
    messages: list[Message]


@dataclass(frozen=True)
class Agent:
    id: int
    name: str
    email: str
    role: str
    availability_status: str


@dataclass(frozen=True)
class Team:
    id: int
    name: str


@dataclass(frozen=True)
class Profile:
    id: int
    name: str
    account_roles: dict[int, str]


class ChatwootClient:
    """One method per endpoint the integration uses; `on_call` receives a CallRecord for every request."""

    def __init__(
        self,
        settings: ChatwootSettings,
        *,
        on_call: Callable[[CallRecord], None] | None = None,
        before_call: Callable[[], None] | None = None,
        session: requests.Session | None = None,
    ):
        if not settings.base_url or not settings.api_token or not settings.account_id:
            raise ChatwootConfigurationError(
                "Set CHATWOOT_BASE_URL, CHATWOOT_ACCOUNT_ID and CHATWOOT_API_TOKEN (a user access token)."
            )
        self.settings = settings
        self.on_call = on_call
        self.before_call = before_call
        self.session = session or requests.Session()
        if not settings.allow_private_network:
            host_public_check(settings.base_url)
            adapter = PublicNetworkAdapter()
            self.session.mount("http://", adapter)
            self.session.mount("https://", adapter)
        # A.1: the token goes in `api_access_token`; the hyphenated spelling survives proxies that drop underscores.
        self.session.headers.update(
            {"api-access-token": settings.api_token, "User-Agent": USER_AGENT, "Accept": "application/json"}
        )
        self.account_url = f"{settings.base_url.rstrip('/')}/api/v1/accounts/{settings.account_id}"

    # Contacts (B)

    def contacts_filter(self, conditions: list[tuple[str, str]]) -> list[Contact]:
        """Contacts whose attribute equals any of the values, OR'ed (B.4)."""
        payload = [
            {
                "attribute_key": key,
                "filter_operator": "equal_to",
                "values": [value],
                "query_operator": "OR" if index < len(conditions) - 1 else None,
            }
            for index, (key, value) in enumerate(conditions)
        ]
        body = self._request("POST", "/contacts/filter", json={"payload": payload})
        return [contact_from(item) for item in body.get("payload", [])]

    def contact_get(self, contact_id: int) -> Contact:
        return contact_from(self._request("GET", f"/contacts/{contact_id}")["payload"])

    def contact_create(self, *, inbox_id: int, source_id: str, **fields: Any) -> tuple[Contact, str | None]:
        """Create a contact with its contact_inbox in one transaction (B.1); returns it and the source_id."""
        body = self._request("POST", "/contacts", json={"inbox_id": inbox_id, "source_id": source_id, **fields})
        payload = body["payload"]
        return contact_from(payload["contact"]), (payload.get("contact_inbox") or {}).get("source_id")

    def contact_update(self, contact_id: int, **fields: Any) -> Contact:
        """custom_attributes are shallow-merged by Chatwoot (B.5)."""
        return contact_from(self._request("PATCH", f"/contacts/{contact_id}", json=fields)["payload"])

    def contact_inbox_create(self, contact_id: int, *, inbox_id: int, source_id: str) -> ContactInbox:
        """Idempotent only because we always pass our own source_id (B.6)."""
        body = self._request(
            "POST", f"/contacts/{contact_id}/contact_inboxes", json={"inbox_id": inbox_id, "source_id": source_id}
        )
        return ContactInbox(inbox_id=int(body["inbox"]["id"]), source_id=str(body["source_id"]))

    def contact_conversations(self, contact_id: int) -> list[Conversation]:
        """At most 20, newest activity first (C.2)."""
        body = self._request("GET", f"/contacts/{contact_id}/conversations")
        return [conversation_from(item) for item in body.get("payload", [])]

    # Conversations (C)

    def conversation_create(self, **fields: Any) -> Conversation:
        return conversation_from(self._request("POST", "/conversations", json=fields))

    def conversation_get(self, conversation_id: int) -> Conversation:
        return conversation_from(self.conversation_payload(conversation_id))

    def conversation_payload(self, conversation_id: int) -> dict:
        """The conversation as Chatwoot returns it, for the same handlers webhooks go through."""
        return self._request("GET", f"/conversations/{conversation_id}")

    def conversation_status_set(self, conversation_id: int, status: str) -> str:
        body = self._request("POST", f"/conversations/{conversation_id}/toggle_status", json={"status": status})
        return str((body.get("payload") or {}).get("current_status") or status)

    def conversation_labels(self, conversation_id: int) -> list[str]:
        return list(self._request("GET", f"/conversations/{conversation_id}/labels").get("payload", []))

    def conversation_labels_set(self, conversation_id: int, labels: list[str]) -> list[str]:
        """Replaces the whole list (C.5): callers merge first."""
        body = self._request("POST", f"/conversations/{conversation_id}/labels", json={"labels": labels})
        return list(body.get("payload", []))

    def conversation_custom_attributes_set(self, conversation_id: int, attributes: dict) -> dict:
        """Replaces the whole hash (C.5): callers merge first."""
        body = self._request(
            "POST", f"/conversations/{conversation_id}/custom_attributes", json={"custom_attributes": attributes}
        )
        return dict(body.get("custom_attributes") or {})

    def conversation_assign_agent(self, conversation_id: int, agent_id: int) -> Agent | None:
        body = self._request("POST", f"/conversations/{conversation_id}/assignments", json={"assignee_id": agent_id})
        return agent_from(body) if isinstance(body, dict) and body.get("id") else None

    def conversation_assign_team(self, conversation_id: int, team_id: int) -> Team | None:
        body = self._request("POST", f"/conversations/{conversation_id}/assignments", json={"team_id": team_id})
        # C.4: an unknown team unassigns and answers null.
        return (
            Team(id=int(body["id"]), name=str(body.get("name") or ""))
            if isinstance(body, dict) and body.get("id")
            else None
        )

    # Messages (D)

    def messages_latest(self, conversation_id: int) -> list[Message]:
        body = self._request("GET", f"/conversations/{conversation_id}/messages")
        return [message_from(item) for item in body.get("payload", [])]

    def message_create(self, conversation_id: int, *, content: str, private: bool) -> Message:
        body = self._request(
            "POST",
            f"/conversations/{conversation_id}/messages",
            json={"content": content, "message_type": "outgoing", "private": private},
        )
        return message_from(body)

    # Agents, teams, inboxes (E)

    def agents(self) -> list[Agent]:
        return [agent_from(item) for item in self._request("GET", "/agents")]

    def inbox_members(self, inbox_id: int) -> list[Agent]:
        """Administrators only; `assignable_agents` is the fallback for agent tokens."""
        return [agent_from(item) for item in self._request("GET", f"/inbox_members/{inbox_id}").get("payload", [])]

    def assignable_agents(self, inbox_id: int) -> list[Agent]:
        body = self._request("GET", "/assignable_agents", params={"inbox_ids[]": inbox_id})
        return [agent_from(item) for item in body.get("payload", [])]

    def teams(self) -> list[Team]:
        return [Team(id=int(item["id"]), name=str(item.get("name") or "")) for item in self._request("GET", "/teams")]

    def team_members(self, team_id: int) -> list[Agent]:
        return [agent_from(item) for item in self._request("GET", f"/teams/{team_id}/team_members")]

    def inbox_get(self, inbox_id: int) -> dict:
        return self._request("GET", f"/inboxes/{inbox_id}")

    def profile(self) -> Profile:
        """The token's user (A.2: only user tokens have one)."""
        url = f"{self.settings.base_url.rstrip('/')}/api/v1/profile"
        body = self._request("GET", "/profile", url=url)
        roles = {int(item["id"]): str(item.get("role") or "") for item in body.get("accounts", [])}
        return Profile(id=int(body["id"]), name=str(body.get("name") or ""), account_roles=roles)

    # Transport

    def _request(self, method: str, path: str, *, json: Any = None, params: dict | None = None, url: str = ""):
        if self.before_call:
            self.before_call()
        started = time.monotonic()
        response = None
        error: Exception | None = None
        token = self.settings.api_token
        try:
            response = self.session.request(
                method,
                url or self.account_url + path,
                json=json,
                params=params,
                timeout=(self.settings.connect_timeout, self.settings.read_timeout),
                allow_redirects=False,  # a redirect would carry the token to wherever it points
            )
            return _body_or_raise(response, method, path, token=token)
        except requests.Timeout as err:
            # A read timeout means the request reached Chatwoot: it may have done the work.
            ambiguous = not isinstance(err, requests.ConnectTimeout)
            error = ChatwootTimeout(f"Chatwoot did not answer {method} {path} in time.", method=method, path=path)
            error.ambiguous = ambiguous
            raise error from err
        except requests.ConnectionError as err:
            error = ChatwootConnectionError(
                f"Could not reach Chatwoot for {method} {path}: {type(err).__name__}.",
                ambiguous=_sent_before_failure(err),
                method=method,
                path=path,
            )
            raise error from err
        except (ChatwootError, ChatwootConfigurationError) as err:
            error = err
            raise
        finally:
            if self.on_call:
                self.on_call(_record(method, path, json, params, response, error, started, token=token))


# Private addresses (SSRF). Chatwoot's own SafeFetch refuses the same ranges for its webhooks (API-NOTES F.5).

PRIVATE_NETWORK_HINT = "set CHATWOOT_ALLOW_PRIVATE_NETWORK=true only if Chatwoot really runs on your private network"


def address_is_public(address: str) -> bool:
    """False for private, loopback, link-local, shared (CGNAT), reserved and multicast addresses."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])  # an IPv6 zone (fe80::1%eth0) is not part of the address
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def host_public_check(base_url: str) -> None:
    """Refuse a CHATWOOT_BASE_URL whose host resolves to any non-public address, before anything is sent."""
    parts = urlsplit(base_url)
    host = parts.hostname or ""
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
        found = {info[4][0] for info in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)}
    except (OSError, ValueError, UnicodeError):
        return  # unresolvable for now: the request fails as a connection error and is retried
    refused = sorted(address for address in found if not address_is_public(address))
    if refused:
        raise ChatwootConfigurationError(
            f"CHATWOOT_BASE_URL ({host}) resolves to a private, loopback or link-local address "
            f"({', '.join(refused)}), which Nexa refuses: {PRIVATE_NETWORK_HINT}."
        )


class _PublicPeerMixin:
    """Check the address actually connected to, so DNS that changes after host_public_check cannot slip through."""

    def _new_conn(self):
        sock = super()._new_conn()
        peer = sock.getpeername()[0]
        if not address_is_public(peer):
            sock.close()
            raise ChatwootConfigurationError(
                f"CHATWOOT_BASE_URL ({self.host}) now leads to {peer}, a private address; "
                f"nothing was sent: {PRIVATE_NETWORK_HINT}."
            )
        return sock


class _PublicHTTPConnection(_PublicPeerMixin, HTTPConnection):
    pass


class _PublicHTTPSConnection(_PublicPeerMixin, HTTPSConnection):
    pass


class _PublicHTTPConnectionPool(HTTPConnectionPool):
    ConnectionCls = _PublicHTTPConnection


class _PublicHTTPSConnectionPool(HTTPSConnectionPool):
    ConnectionCls = _PublicHTTPSConnection


class PublicNetworkAdapter(HTTPAdapter):
    """A transport that only completes connections to public addresses (a proxy, if configured, decides for itself)."""

    def init_poolmanager(self, *args, **kwargs):
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {
            "http": _PublicHTTPConnectionPool,
            "https": _PublicHTTPSConnectionPool,
        }


def _body_or_raise(response: requests.Response, method: str, path: str, *, token: str = "") -> Any:
    status = response.status_code
    try:
        body = response.json() if response.content else None
    except ValueError:
        body = _redact(response.text, token)[:RECORD_LIMIT]
    if 200 <= status < 300:
        return body if body is not None else {}
    message = f"Chatwoot answered {status} to {method} {path}: {_error_text(body, token)}"
    kwargs = {"status": status, "body": body, "method": method, "path": path}
    if status == 401:
        raise ChatwootAuthError(message, **kwargs)
    if status == 429:
        raise ChatwootRateLimited(message, **kwargs)
    if status >= 500:
        raise ChatwootTransientError(message, **kwargs)
    if status == 404:
        raise ChatwootNotFound(message, **kwargs)
    raise ChatwootPermanentError(message, **kwargs)


def _error_text(body: Any, token: str = "") -> str:
    """I: errors come as {"error"}, {"errors": [...]}, or {"message", "attributes"}."""
    if isinstance(body, dict):
        for key in ("message", "error", "errors"):
            if body.get(key):
                value = body[key]
                return _redact("; ".join(map(str, value)) if isinstance(value, list) else str(value), token)
    return _redact(str(body or ""), token)[:300].strip()


def _redact(text: str, token: str) -> str:
    """The profile, a proxy's error page or a debug echo may repeat the token: it never reaches an audit row or log."""
    return text.replace(token, "[token]") if token else text


def _sent_before_failure(err: requests.ConnectionError) -> bool:
    """A reset after the request went out is as ambiguous as a timeout; a refused connection is not."""
    text = repr(err)
    return not any(marker in text for marker in ("NewConnectionError", "NameResolutionError", "Connection refused"))


def _record(method, path, json_body, params, response, error, started, *, token: str = "") -> CallRecord:
    request = {"json": json_body, "params": params} if params else json_body
    text = _redact(response.text, token)[:RECORD_LIMIT] if response is not None else ""
    return CallRecord(
        method=method,
        path=path,
        status=response.status_code if response is not None else None,
        duration_ms=int((time.monotonic() - started) * 1000),
        request=_truncate(request),
        response=text,
        error_class=type(error).__name__ if error else "",
    )


def _truncate(value: Any) -> Any:
    text = json.dumps(value, ensure_ascii=False, default=str)
    return value if len(text) <= RECORD_LIMIT else {"truncated": text[:RECORD_LIMIT]}


def contact_from(data: dict) -> Contact:
    inboxes = [
        ContactInbox(inbox_id=int(item["inbox"]["id"]), source_id=str(item["source_id"]))
        for item in data.get("contact_inboxes") or []
        if item.get("inbox") and item.get("source_id")
    ]
    return Contact(
        id=int(data["id"]),
        name=str(data.get("name") or ""),
        email=str(data.get("email") or ""),
        phone_number=str(data.get("phone_number") or ""),
        identifier=str(data.get("identifier") or ""),
        custom_attributes=dict(data.get("custom_attributes") or {}),
        contact_inboxes=inboxes,
    )


def conversation_from(data: dict) -> Conversation:
    meta = data.get("meta") or {}
    assignee = meta.get("assignee") or {}
    team = meta.get("team") or {}
    is_user = meta.get("assignee_type") in (None, "User")
    return Conversation(
        id=int(data["id"]),
        inbox_id=int(data.get("inbox_id") or 0),
        status=str(data.get("status") or ""),
        custom_attributes=dict(data.get("custom_attributes") or {}),
        labels=list(data.get("labels") or []),
        assignee_id=int(assignee["id"]) if assignee.get("id") and is_user else None,
        assignee_name=str(assignee.get("name") or "") if is_user else "",
        team_id=int(team["id"]) if team.get("id") else None,
        messages=[message_from(item) for item in data.get("messages") or []],
    )


def message_from(data: dict) -> Message:
    return Message(id=int(data["id"]), content=str(data.get("content") or ""), private=bool(data.get("private")))


def agent_from(data: dict) -> Agent:
    return Agent(
        id=int(data["id"]),
        name=str(data.get("available_name") or data.get("name") or ""),
        email=str(data.get("email") or ""),
        role=str(data.get("role") or ""),
        availability_status=str(data.get("availability_status") or "offline"),
    )
