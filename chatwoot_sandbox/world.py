"""Outside Chatwoot: which WhatsApp numbers exist, what each lead received, and the Evolution instances (CHANNELS)."""

from dataclasses import dataclass, field


def digits(value) -> str:
    return "".join(ch for ch in str(value or "") if ch.isdigit())


def br_twin(number: str) -> str | None:
    """CHANNELS §2.1, §2.2, §3: a Brazilian mobile with its 9th digit (13 digits) and without it (12) is one chat.

    Only mobiles have the extra 9: a 12-digit number is a mobile when its local part starts with 6-9.
    """
    if not number.startswith("55"):
        return None
    if len(number) == 13 and number[4] == "9":
        return number[:4] + number[5:]
    if len(number) == 12 and number[4] in "6789":
        return number[:4] + "9" + number[4:]
    return None


def number_variants(number: str) -> list[str]:
    twin = br_twin(number)
    return [number, twin] if twin else [number]


@dataclass
class EvolutionInstance:
    """One Evolution API instance (one WhatsApp Web session) wired to one Chatwoot API inbox (CHANNELS §2)."""

    inbox_id: int
    instance: str
    number: str  # the business number, E.164
    reopen_conversation: bool = False
    conversation_pending: bool = False
    cache_seconds: int = 1800  # CHANNELS §2.2: 30 min from v2.3.7 (8 h in v2.3.6)
    cache: dict = field(default_factory=dict)  # JID → (conversation display id, expiry on the store's clock)


@dataclass
class WhatsAppWorld:
    """Every number that wrote (or was registered) is on WhatsApp; `received` is what leads actually got."""

    registered: set = field(default_factory=set)
    jids: dict = field(default_factory=dict)  # phone digits → the digits WhatsApp uses for that chat's JID
    received: list = field(default_factory=list)
    failures: list = field(default_factory=list)  # replies that never reached the lead, and why
    evolution: dict = field(default_factory=dict)  # inbox id → EvolutionInstance
    integration_user_id: int | None = None
    everyone: bool = False  # every plausible mobile number is on WhatsApp (demos: leads that never wrote here)

    def reset(self) -> None:
        self.registered.clear()
        self.jids.clear()
        self.received.clear()
        self.failures.clear()
        self.evolution.clear()
        self.integration_user_id = None

    def register(self, phone: str, jid_digits: str | None = None) -> str:
        number = digits(phone)
        self.registered.add(number)
        if jid_digits:
            self.registered.add(jid_digits)
            self.jids[number] = jid_digits
        return number

    def jid_digits(self, phone: str) -> str:
        number = digits(phone)
        return self.jids.get(number, number)

    def on_whatsapp(self, number: str) -> str | None:
        """The form WhatsApp knows the number by (itself or its Brazilian twin), or None when it is not on WhatsApp."""
        if not number:
            return None
        if self.everyone and number.isdigit() and 10 <= len(number) <= 15:
            return number
        return next((n for n in number_variants(number) if n in self.registered), None)

    def deliver(self, *, to: str, from_number: str, inbox_id: int, conversation_id: int, content, via: str) -> dict:
        entry = {"to": to, "from_number": from_number, "inbox_id": inbox_id, "conversation_id": conversation_id}
        entry.update(content=content, via=via)
        self.received.append(entry)
        return entry

    def fail(self, *, to: str, inbox_id: int, conversation_id: int, content, via: str, reason: str) -> None:
        entry = {"to": to, "inbox_id": inbox_id, "conversation_id": conversation_id, "content": content}
        self.failures.append({**entry, "via": via, "reason": reason})

    def received_by(self, phone: str | None = None) -> list[dict]:
        if phone is None:
            return list(self.received)
        wanted = set(number_variants(digits(phone)))
        return [entry for entry in self.received if entry["to"] in wanted]
