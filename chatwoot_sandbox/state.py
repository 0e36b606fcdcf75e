"""In-memory Chatwoot account: seed rows, id sequences, one lock, and change tracking for webhooks."""

import itertools
import secrets
import threading
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass

from .inboxes import inbox_row

# DB ids are global to a Chatwoot installation, so they never line up with per-account display ids (C.0);
# distinct starting points make a client that mixes up contact ids, conversation ids and display ids fail loudly.
ID_STARTS = {"contact": 101, "contact_inbox": 301, "conversation": 5001, "message": 9001, "user": 1, "team": 1}

# F.3: changed_attributes follow DB column order; these are the columns the sandbox can change.
CONVERSATION_COLUMNS = (
    "status",
    "assignee_id",
    "updated_at",
    "team_id",
    "snoozed_until",
    "custom_attributes",
    "first_reply_created_at",
    "priority",
    "waiting_since",
    "labels",
)
# F.2: only these changes fire conversation_updated.
CONVERSATION_TRACKED = {
    "team_id",
    "assignee_id",
    "status",
    "snoozed_until",
    "custom_attributes",
    "labels",
    "waiting_since",
    "first_reply_created_at",
    "priority",
}
CONTACT_COLUMNS = (
    "name",
    "email",
    "phone_number",
    "updated_at",
    "additional_attributes",
    "identifier",
    "custom_attributes",
    "last_activity_at",
    "blocked",
)
# F.2 names the label change `label_list` (acts-as-taggable); the row keeps the API name `labels`.
CHANGED_NAMES = {"labels": "label_list"}
TIME_COLUMNS = {"updated_at", "snoozed_until", "first_reply_created_at", "waiting_since", "last_activity_at"}

NOT_FOUND = {"error": "Resource could not be found"}
# B.4 and CHANNELS §4: how contacts/filter turns the first phone_number equal_to value into the compared string.
PHONE_FILTER_RULES = {
    "v4.15": lambda value: "+" + value.replace("+", ""),  # v4.15.1 strips any '+' and adds one
    "legacy": lambda value: "+" + value,  # v4.3 and around: only prepends, so "+55…" becomes "++55…"
}


class ApiError(Exception):
    """An error answer with Chatwoot's status and body (I)."""

    def __init__(self, status: int, body):
        super().__init__(status, body)
        self.status = status
        self.body = body


@dataclass
class Event:
    name: str
    subject: str
    id: int
    changed: list | None = None


def iso(epoch: float | None) -> str | None:
    if epoch is None:
        return None
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(epoch)) + f".{int(epoch * 1000) % 1000:03d}Z"


def epoch_int(epoch: float | None) -> int:
    return int(epoch) if epoch else 0


class Store:
    """All rows of one account, as dicts keyed by the API field names; every access holds `lock`."""

    def __init__(
        self, *, account_id: int, account_name: str, inbox_id: int, inbox_name: str, token: str, phone_filter="v4.15"
    ):
        self.lock = threading.RLock()
        self.on_commit = None  # called with the committed events, still under the lock
        self.clock_offset = 0.0  # seconds added to the wall clock, so tests can move time (24 h windows, caches)
        self.config = {
            "account_id": account_id,
            "account_name": account_name,
            "inbox_id": inbox_id,
            "inbox_name": inbox_name,
            "token": token,
        }
        self.phone_filter_set(phone_filter)
        self.reset()

    def now(self) -> float:
        """The sandbox's time: every timestamp it writes and every window it checks reads this clock."""
        return time.time() + self.clock_offset

    def phone_filter_set(self, rule: str) -> None:
        if rule not in PHONE_FILTER_RULES:
            raise ValueError(f"phone filter rule must be one of {tuple(PHONE_FILTER_RULES)}; got {rule!r}")
        self.config["phone_filter"] = rule

    def reset(self) -> None:
        with self.lock:
            self._depth, self._outbox, self.round_robin = 0, [], 0
            self._ids = {kind: itertools.count(start) for kind, start in ID_STARTS.items()}
            self.contacts, self.contact_inboxes, self.conversations, self.messages = [], [], [], []
            self.users, self.teams, self.tokens = [], [], {}
            self._seed()

    def _seed(self) -> None:
        cfg, now = self.config, self.now()
        self.account = {"id": cfg["account_id"], "name": cfg["account_name"]}
        self.inboxes = [inbox_row(cfg["inbox_id"], cfg["inbox_name"], cfg["account_id"], now)]
        self.user_add("Ana Costa", "ana.costa@nexa.example", role="administrator", token=cfg["token"])
        self.user_add("Bruno Lima", "bruno.lima@nexa.example")
        self.user_add("Carla Dias", "carla.dias@nexa.example", availability="offline")
        self.team_add("Vendas", member_ids=[1, 2])
        self.bot = {"id": 1, "name": "Nexa Bot", "description": "Atlas Nexa qualification bot", "thumbnail": ""}
        self.bot.update(outgoing_url=None, bot_type="webhook")
        self.tokens[f"{cfg['token']}-bot"] = ("bot", 1)

    def user_add(self, name, email, *, role="agent", availability="online", token=None, inbox_member=True) -> dict:
        with self.lock:
            user = {"id": next(self._ids["user"]), "name": name, "email": email, "role": role}
            user.update(availability=availability, account_id=self.account["id"])
            user["access_token"] = token or f"{self.config['token']}-agent-{user['id']}"
            self.users.append(user)
            self.tokens[user["access_token"]] = ("user", user["id"])
            if inbox_member:
                for inbox in self.inboxes:
                    inbox["member_ids"].append(user["id"])
            return user

    def team_add(self, name, *, member_ids=(), description="", allow_auto_assign=False) -> dict:
        with self.lock:
            now = self.now()
            team = {"id": next(self._ids["team"]), "name": name, "description": description}
            team.update(allow_auto_assign=allow_auto_assign, account_id=self.account["id"])
            team.update(created_at=now, updated_at=now, member_ids=list(member_ids))
            self.teams.append(team)
            return team

    def next_id(self, kind: str) -> int:
        return next(self._ids[kind])

    def next_display_id(self) -> int:
        return max((c["display_id"] for c in self.conversations), default=0) + 1

    @staticmethod
    def new_token() -> str:
        return secrets.token_urlsafe(18)[:24]

    @staticmethod
    def new_uuid() -> str:
        return str(uuid.uuid4())

    # --- lookups: None when absent, or ApiError 404 for the `*_or_404` forms (I) ---

    def find(self, rows: list, **match):
        return next((row for row in rows if all(row.get(k) == v for k, v in match.items())), None)

    def or_404(self, row):
        if row is None:
            raise ApiError(404, NOT_FOUND)
        return row

    def contact(self, contact_id):
        return self.or_404(self.find(self.contacts, id=as_int(contact_id)))

    def conversation(self, display_id):
        return self.or_404(self.find(self.conversations, display_id=as_int(display_id)))

    def inbox(self, inbox_id):
        return self.or_404(self.find(self.inboxes, id=as_int(inbox_id)))

    def user(self, user_id):
        return self.find(self.users, id=as_int(user_id))

    def team(self, team_id):
        return self.find(self.teams, id=as_int(team_id))

    # --- transactions and change tracking ---

    @contextmanager
    def transaction(self):
        """Hold the lock; events recorded inside are handed to `on_commit` only if the block succeeds."""
        with self.lock:
            self._depth += 1
            try:
                yield self
            except BaseException:
                self._outbox = [] if self._depth == 1 else self._outbox
                raise
            finally:
                self._depth -= 1
            if self._depth == 0:
                events, self._outbox = self._outbox, []
                if events and self.on_commit:
                    self.on_commit(events)

    def emit(self, name: str, subject: str, row_id: int, changed: list | None = None) -> None:
        self._outbox.append(Event(name, subject, row_id, changed))

    def events_drop(self, subject: str, row_id: int, names: set) -> None:
        self._outbox = [e for e in self._outbox if not (e.subject == subject and e.id == row_id and e.name in names)]

    def conversation_change(self, conversation: dict, **changes) -> list:
        """Save tracked columns; F.2: status fires status_changed, tracked columns fire conversation_updated."""
        diff = diff_apply(conversation, changes, CONVERSATION_COLUMNS, self.now())
        if not diff:
            return []
        if "status" in diff:
            # F.4: the status diff is already cleared when the callback runs, so changed_attributes is null.
            self.emit("conversation_status_changed", "conversation", conversation["display_id"], None)
        if CONVERSATION_TRACKED & set(diff):
            self.emit("conversation_updated", "conversation", conversation["display_id"], changed_list(diff))
        return list(diff)

    def contact_change(self, contact: dict, **changes) -> list:
        diff = diff_apply(contact, changes, CONTACT_COLUMNS, self.now())
        if diff:
            self.emit("contact_updated", "contact", contact["id"], changed_list(diff))
        return list(diff)

    def message_change(self, message: dict, **changes) -> list:
        """F.2: any saved change fires message_updated, which carries no changed_attributes."""
        diff = diff_apply(message, changes, (), self.now())
        if diff:
            self.emit("message_updated", "message", message["id"])
        return list(diff)


def diff_apply(row: dict, changes: dict, columns: tuple, now: float) -> dict:
    """Apply changes; return {column: (previous, current)} in column order, with updated_at when anything changed."""
    diff = {k: (row.get(k), v) for k, v in changes.items() if row.get(k) != v}
    if not diff:
        return {}
    now = max(now, (row.get("updated_at") or 0) + 0.001)
    diff["updated_at"] = (row.get("updated_at"), now)
    for key, (_, current) in diff.items():
        row[key] = current
    return {k: diff[k] for k in sorted(diff, key=lambda k: columns.index(k) if k in columns else len(columns))}


def changed_list(diff: dict) -> list:
    """F.3: one-key objects, times as ISO strings."""
    out = []
    for key, (previous, current) in diff.items():
        if key in TIME_COLUMNS:
            previous, current = iso(previous), iso(current)
        out.append({CHANGED_NAMES.get(key, key): {"previous_value": previous, "current_value": current}})
    return out


def as_int(value):
    try:
        return int(value)
    except (TypeError, ValueError):
        return None
