"""The small, frozen values the client returns, and how each is read from Chatwoot's JSON."""

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote


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
    team_name: str = ""
    can_reply: bool = True  # false in a WhatsApp inbox outside the 24 h window (C.1)
    updated_at: float | None = None  # epoch seconds with a fraction: orders states (F.2)
    first_reply_at: datetime | None = None


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
class Inbox:
    """An inbox and what its channel means for the lead's WhatsApp (CHANNELS §1)."""

    id: int
    name: str
    channel_type: str
    kind: str  # "evolution" | "whatsapp" | "api" | "unsupported"
    phone_number: str = ""  # a native WhatsApp inbox's business number
    instance: str = ""  # the Evolution instance, from the webhook URL
    webhook_url: str = ""
    provider: str = ""
    auto_assignment: bool = False  # Chatwoot assigns new conversations itself (E)


@dataclass(frozen=True)
class Profile:
    id: int
    name: str
    account_roles: dict[int, str]


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
        team_name=str(team.get("name") or ""),
        can_reply=data.get("can_reply") is not False,
        updated_at=_float(data.get("updated_at")),
        first_reply_at=time_from(data.get("first_reply_created_at")),
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


def _float(value) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def time_from(value) -> datetime | None:
    """A Chatwoot time: epoch seconds in the API, ISO 8601 in webhooks (C.1, F); None when absent or unreadable."""
    if isinstance(value, int | float) and not isinstance(value, bool) and value:
        return datetime.fromtimestamp(value, tz=UTC)
    if isinstance(value, str) and value:
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            return None
    return None


EVOLUTION_WEBHOOK = re.compile(r"/chatwoot/webhook/([^/?#]+)/?(?:[?#].*)?$")  # CHANNELS §1


def inbox_from(data: dict) -> Inbox:
    channel = str(data.get("channel_type") or "")
    webhook_url = str(data.get("webhook_url") or "")
    evolution = EVOLUTION_WEBHOOK.search(webhook_url) if channel == "Channel::Api" else None
    if evolution:
        kind = "evolution"
    elif channel == "Channel::Api":
        kind = "api"
    elif channel == "Channel::Whatsapp":
        kind = "whatsapp"
    else:
        kind = "unsupported"
    return Inbox(
        id=int(data["id"]),
        name=str(data.get("name") or ""),
        channel_type=channel,
        kind=kind,
        phone_number=str(data.get("phone_number") or "") if kind == "whatsapp" else "",
        instance=unquote(evolution.group(1)) if evolution else "",
        webhook_url=webhook_url,
        provider=str(data.get("provider") or ""),
        auto_assignment=bool(data.get("enable_auto_assignment")),
    )
