"""The Sandbox: a Chatwoot v4.15.1 stand-in to start from tests or the command line, with agent actions."""

import copy
import logging
import threading
import time
from typing import NamedTuple

from . import channels
from .conversations import conversation_assign, conversation_toggle_status
from .faults import FaultPlan, RequestBudget
from .messages import message_create
from .payloads import event_payload
from .presenters import inbox_api
from .server import SandboxServer
from .state import Store
from .webhooks import WebhookSender
from .world import WhatsAppWorld

AVAILABILITY = ("online", "busy", "offline")


class RequestLogEntry(NamedTuple):
    at: float  # time.monotonic()
    method: str
    path: str
    outcome: int | str  # the HTTP status, or the fault kind that replaced or delayed the answer


class Sandbox:
    """An in-memory Chatwoot account served over HTTP.

    with Sandbox(webhook_url=..., webhook_secret=...).start() as sb:
        requests.post(f"{sb.base_url}/api/v1/accounts/1/contacts", headers={"api_access_token": sb.token}, ...)
        sb.agent_reply(display_id, 2, "Olá!")  # then sb.wait_for_webhooks()

    WhatsApp inboxes (CHANNELS): `add_evolution_inbox` / `add_whatsapp_inbox`, then `lead_writes`, `bot_replies`
    and `whatsapp_received` (what the lead actually got); `advance(seconds)` moves the sandbox's clock.
    """

    logger = logging.getLogger("chatwoot_sandbox")

    def __init__(
        self,
        token: str = "sandbox-token",  # noqa: S107 - the sandbox's well-known admin token
        account_id: int = 1,
        inbox_id: int = 1,
        latency_ms: int = 0,
        webhook_url: str | None = None,
        webhook_secret: str | None = None,
        rate_limit_per_minute: int | None = None,
        *,
        webhook_events=None,  # the webhook's subscriptions (F.1; None: Chatwoot's default eight)
        account_name: str = "Nexa Sandbox",
        inbox_name: str = "Atlas Nexa",
        phone_filter: str = "v4.15",
    ):
        self.state = Store(
            account_id=account_id,
            account_name=account_name,
            inbox_id=inbox_id,
            inbox_name=inbox_name,
            token=token,
            phone_filter=phone_filter,
        )
        self.state.on_commit = self._committed
        self.world = WhatsAppWorld()  # outside Chatwoot: WhatsApp and the Evolution instances
        self._inbox_specs = []  # (add function, options) of the inboxes added after the seed, replayed by reset()
        self.token, self.latency_ms = token, latency_ms
        self.requests: list[RequestLogEntry] = []
        self.events: list[dict] = []  # every webhook payload built, delivered or not
        self.faults = FaultPlan()
        self.budget = RequestBudget(rate_limit_per_minute)
        self.webhook_secret = webhook_secret or (Store.new_token() if webhook_url else None)
        self.webhooks = (
            WebhookSender(webhook_url, self.webhook_secret, subscriptions=webhook_events) if webhook_url else None
        )
        self._server = self._thread = None

    # --- lifecycle ---

    def start(self, host: str = "127.0.0.1", port: int = 0) -> "Sandbox":
        self._server = SandboxServer((host, port), self)
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), name="chatwoot-sandbox", daemon=True
        )  # a short poll interval makes stop() quick
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self.webhooks:
            self.webhooks.stop()

    def __enter__(self) -> "Sandbox":
        return self if self._server else self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    # --- configuration ---

    @property
    def agent_tokens(self) -> dict[int, str]:
        return {u["id"]: u["access_token"] for u in self.state.users if u["access_token"] != self.token}

    @property
    def bot_token(self) -> str:
        return next(t for t, owner in self.state.tokens.items() if owner[0] == "bot")

    def set_faults(self, rate=0.0, kinds=FaultPlan.kinds, seed=None, slow_seconds=3.0, writes_only=False) -> None:
        self.faults = FaultPlan(rate=rate, kinds=kinds, seed=seed, slow_seconds=slow_seconds, writes_only=writes_only)

    def set_latency(self, ms: int) -> None:
        self.latency_ms = ms

    def set_rate_limit(self, per_minute: int | None) -> None:
        self.budget = RequestBudget(per_minute)

    def set_availability(self, agent_id: int, status: str) -> None:
        if status not in AVAILABILITY:
            raise ValueError(f"availability must be one of {AVAILABILITY}")
        with self.state.lock:
            self._user(agent_id)["availability"] = status

    def add_agent(self, name: str, email: str, *, role="agent", availability="online", inbox_member=True) -> dict:
        """Add an account user; its API token is in the returned row's `access_token`."""
        return self.state.user_add(name, email, role=role, availability=availability, inbox_member=inbox_member)

    def add_team(self, name: str, member_ids=(), *, allow_auto_assign=False) -> dict:
        return self.state.team_add(name, member_ids=member_ids, allow_auto_assign=allow_auto_assign)

    def set_phone_filter(self, rule: str) -> None:
        """CHANNELS §4: "v4.15" (strip '+' then add one) or "legacy" (only prepend '+') for contacts/filter."""
        with self.state.lock:
            self.state.phone_filter_set(rule)

    def advance(self, seconds: float) -> None:
        """Move the sandbox's clock forward (24 h reply windows, Evolution's conversation cache) without sleeping."""
        with self.state.lock:
            self.state.clock_offset += seconds

    def reset(self) -> None:
        """Back to the seed, keeping the inboxes added since (the command line adds them at start)."""
        with self.state.lock:
            self.state.reset()
            self.world.reset()
            for add, options in self._inbox_specs:
                add(self.state, self.world, **options)
        self.requests.clear()
        self.events.clear()

    def log_request(self, method: str, path: str, outcome) -> None:
        self.requests.append(RequestLogEntry(time.monotonic(), method, path, outcome))

    def wait_for_webhooks(self, timeout: float = 5.0) -> bool:
        return self.webhooks.wait(timeout) if self.webhooks else True

    def state_dump(self) -> dict:
        store = self.state
        with store.lock:
            names = ("account", "inboxes", "users", "teams", "contacts", "contact_inboxes", "conversations", "messages")
            dump = {name: getattr(store, name) for name in names}
            dump.update(whatsapp_received=self.world.received, whatsapp_failures=self.world.failures)
            return copy.deepcopy(dump)

    # --- inboxes of other kinds (CHANNELS §1) ---

    def add_evolution_inbox(
        self,
        instance: str,
        number: str,
        *,
        name: str | None = None,
        reopen_conversation: bool = False,
        conversation_pending: bool = False,
        cache_seconds: int = 1800,
    ) -> dict:
        """An API inbox served by an in-process Evolution instance for business number `number` (CHANNELS §2)."""
        options = {"reopen_conversation": reopen_conversation, "conversation_pending": conversation_pending}
        options.update(instance=instance, number=number, name=name, cache_seconds=cache_seconds)
        return self._inbox_add(channels.evolution_inbox_add, options)

    def add_whatsapp_inbox(self, number: str, *, name: str | None = None, provider: str = "whatsapp_cloud") -> dict:
        """A native Channel::Whatsapp inbox (CHANNELS §3)."""
        return self._inbox_add(channels.whatsapp_inbox_add, {"number": number, "name": name, "provider": provider})

    def add_email_inbox(self, email: str, *, name: str | None = None) -> dict:
        return self._inbox_add(channels.email_inbox_add, {"email": email, "name": name})

    @property
    def evolution_user_id(self) -> int | None:
        """The administrator whose token Evolution uses; None until the first Evolution inbox."""
        return self.world.integration_user_id

    # --- the lead's WhatsApp (CHANNELS §2, §3) ---

    def lead_writes(
        self, inbox_id: int, phone: str, text: str, *, push_name: str = "", jid_digits: str | None = None
    ) -> dict:
        """The lead `phone` writes to the inbox's number; the Chatwoot message row created (like contact_message)."""
        chat = {"push_name": push_name, "jid_digits": jid_digits}
        return channels.lead_writes(self.state, self.world, inbox_id, phone, text, **chat)

    def bot_replies(self, inbox_id: int, phone: str, text: str) -> dict:
        """Atlas answered the lead through Evolution: delivered, and mirrored as outgoing (CHANNELS §2.3)."""
        return channels.bot_replies(self.state, self.world, inbox_id, phone, text)

    def whatsapp_register(self, phone: str) -> None:
        """Put a number on WhatsApp although it never wrote (every number that writes is on it)."""
        with self.state.lock:
            self.world.register(phone)

    def whatsapp_received(self, phone: str | None = None) -> list[dict]:
        """What leads actually received on WhatsApp (of `phone`, or its Brazilian twin, when given)."""
        with self.state.lock:
            return copy.deepcopy(self.world.received_by(phone))

    # --- agent actions, as done in Chatwoot's dashboard ---

    def agent_reply(self, display_id: int, agent_id: int, content: str) -> dict:
        return self._agent_message(display_id, agent_id, content, private=False)

    def add_private_note(self, display_id: int, agent_id: int, content: str) -> dict:
        return self._agent_message(display_id, agent_id, content, private=True)

    def contact_message(self, display_id: int, content: str) -> dict:
        with self.state.transaction() as store:
            conversation = store.conversation(display_id)
            contact = store.contact(conversation["contact_id"])
            return message_create(
                store, conversation, content=content, sender=("contact", contact), message_type="incoming"
            )

    def resolve(self, display_id: int, agent_id: int | None = None) -> dict:
        return self._toggle(display_id, agent_id, "resolved")

    def reopen(self, display_id: int, agent_id: int | None = None) -> dict:
        return self._toggle(display_id, agent_id, "open")

    def assign(self, display_id: int, agent_id: int | None, by_agent_id: int | None = None) -> None:
        with self.state.transaction() as store:
            conversation = store.conversation(display_id)
            conversation_assign(store, conversation, {"assignee_id": agent_id}, ("user", self._user(by_agent_id)))

    # --- internals ---

    def _user(self, agent_id: int | None) -> dict:
        """The given user, or the first administrator."""
        store = self.state
        user = store.user(agent_id) if agent_id is not None else store.find(store.users, role="administrator")
        if user is None:
            raise ValueError(f"no user {agent_id} in the sandbox account")
        return user

    def _agent_message(self, display_id: int, agent_id: int, content: str, *, private: bool) -> dict:
        with self.state.transaction() as store:
            conversation, user = store.conversation(display_id), self._user(agent_id)
            conversation["agent_last_seen_at"] = store.now()  # the agent has the conversation open
            return message_create(store, conversation, content=content, sender=("user", user), private=private)

    def _toggle(self, display_id: int, agent_id: int | None, status: str) -> dict:
        with self.state.transaction() as store:
            conversation, user = store.conversation(display_id), self._user(agent_id)
            return conversation_toggle_status(store, conversation, {"status": status}, ("user", user))

    def _inbox_add(self, add, options: dict) -> dict:
        with self.state.lock:
            inbox = add(self.state, self.world, **options)
            self._inbox_specs.append((add, options))
            return copy.deepcopy(inbox_api(inbox, admin=True))

    def _committed(self, events: list) -> None:
        """Called under the state lock: F.2 builds payloads from the committed state; delivery is asynchronous."""
        payloads = [copy.deepcopy(event_payload(self.state, event)) for event in events]  # detached from live rows
        for payload in payloads:
            self.events.append(payload)
            if self.webhooks:
                self.webhooks.enqueue(payload)
        channels.replies_deliver(self.state, self.world, payloads)  # CHANNELS §2.1, §3: after the commit
