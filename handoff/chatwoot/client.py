"""A thin, typed client for the parts of Chatwoot's Application API the handoff uses (never touches the ORM).

Every fact about Chatwoot's behaviour cited here is in ../shared/chatwoot/API-NOTES.md, by section.
"""

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import requests

from handoff.chatwoot.errors import (
    ChatwootConfigurationError,
    ChatwootConnectionError,
    ChatwootError,
    ChatwootRateLimited,
    ChatwootTimeout,
)
from handoff.chatwoot.guard import PublicNetworkAdapter, host_public_check, private_network_allowed
from handoff.chatwoot.responses import body_or_raise, call_record, sent_before_failure
from handoff.chatwoot.types import (
    Agent,
    CallRecord,
    Contact,
    Conversation,
    Inbox,
    Message,
    Profile,
    Team,
    agent_from,
    contact_from,
    conversation_from,
    inbox_from,
    message_from,
)

USER_AGENT = "Nexa/1.0 (+handoff)"


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


def chatwoot_session(settings: ChatwootSettings) -> requests.Session:
    """A session for these settings; it may serve many clients in turn (one thread at a time), keeping their
    connections alive between them."""
    session = requests.Session()
    # The environment's proxy and CA bundle, read once here rather than on every request (requests would read the
    # environment, and ~/.netrc, each time).
    session.proxies.update(requests.utils.get_environ_proxies(settings.base_url))
    session.verify = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or True
    session.trust_env = False
    if not settings.allow_private_network:
        host_public_check(settings.base_url)
        adapter = PublicNetworkAdapter()
        session.mount("http://", adapter)
        session.mount("https://", adapter)
    # A.1: the token goes in `api_access_token`; the hyphenated spelling survives proxies that drop underscores.
    session.headers.update(
        {"api-access-token": settings.api_token, "User-Agent": USER_AGENT, "Accept": "application/json"}
    )
    return session


class ChatwootClient:
    """One method per endpoint the integration uses.

    Hooks: `before_call` runs before every request (it may raise to stop it), `on_call` receives a CallRecord for
    every request, and `on_rate_limited` sees a 429 before it propagates (it may raise something else instead).
    """

    def __init__(
        self,
        settings: ChatwootSettings,
        *,
        on_call: Callable[[CallRecord], None] | None = None,
        before_call: Callable[[], None] | None = None,
        on_rate_limited: Callable[[ChatwootRateLimited], None] | None = None,
        session: requests.Session | None = None,
    ):
        if not settings.base_url or not settings.api_token or not settings.account_id:
            raise ChatwootConfigurationError(
                "Set CHATWOOT_BASE_URL, CHATWOOT_ACCOUNT_ID and CHATWOOT_API_TOKEN (a user access token)."
            )
        self.settings = settings
        self.on_call = on_call
        self.before_call = before_call
        self.on_rate_limited = on_rate_limited
        self.session = session or chatwoot_session(settings)
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

    def contact_conversations(self, contact_id: int) -> list[Conversation]:
        """At most 20, newest activity first (C.2)."""
        body = self._request("GET", f"/contacts/{contact_id}/conversations")
        return [conversation_from(item) for item in body.get("payload", [])]

    # Conversations (C)

    def conversation_create(self, **fields: Any) -> Conversation:
        return conversation_from(self._request("POST", "/conversations", json=fields))

    def conversation_get(self, conversation_id: int) -> Conversation:
        return conversation_from(self._request("GET", f"/conversations/{conversation_id}"))

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

    def inboxes(self) -> list[Inbox]:
        """Every inbox of the account, with its kind (CHANNELS §1)."""
        return [inbox_from(item) for item in self._request("GET", "/inboxes").get("payload", [])]

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
            return body_or_raise(response, method, path, token=token)
        except requests.Timeout as err:
            # A read timeout means the request reached Chatwoot: it may have done the work.
            ambiguous = not isinstance(err, requests.ConnectTimeout)
            error = ChatwootTimeout(f"Chatwoot did not answer {method} {path} in time.", method=method, path=path)
            error.ambiguous = ambiguous
            raise error from err
        except requests.ConnectionError as err:
            error = ChatwootConnectionError(
                f"Could not reach Chatwoot for {method} {path}: {type(err).__name__}.",
                ambiguous=sent_before_failure(err),
                method=method,
                path=path,
            )
            raise error from err
        except (ChatwootError, ChatwootConfigurationError) as err:
            error = err
            if isinstance(err, ChatwootRateLimited) and self.on_rate_limited:
                self.on_rate_limited(err)
            raise
        finally:
            if self.on_call:
                self.on_call(call_record(method, path, json, params, response, error, started, token=token))
