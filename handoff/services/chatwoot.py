"""The one way Nexa calls Chatwoot: every request audited, inside the shared budget, and a 429 handled here."""

import threading
from collections.abc import Callable

import requests
from django.conf import settings

from handoff import throttle
from handoff.chatwoot import (
    CallRecord,
    ChatwootClient,
    ChatwootConfigurationError,
    ChatwootError,
    ChatwootRateLimited,
    ChatwootSettings,
    chatwoot_session,
)
from handoff.models import ChatwootCall, Handoff

CHATWOOT_SETTINGS = ("CHATWOOT_BASE_URL", "CHATWOOT_ACCOUNT_ID", "CHATWOOT_API_TOKEN", "CHATWOOT_INBOX_ID")
# Everything a call through chatwoot_for may raise about Chatwoot (rather than a bug): for callers that report it.
CHATWOOT_UNAVAILABLE = (ChatwootError, ChatwootConfigurationError, throttle.ChatwootDeferred)
# Calls in a row, in one process, that Chatwoot did not answer (no answer, or its proxy's 502/503/504) before everyone
# pauses as for an outage. With 30% of calls failing at random, ten in a row come about twice in a million calls; in
# an outage, within a second.
OUTAGE_AFTER = 10
GATEWAY_ERRORS = (502, 503, 504)


def chatwoot_for(
    *,
    step: str | Callable[[], str],
    handoff: Handoff | Callable[[], Handoff | None] | None = None,
    wait_seconds: float = 0.0,
) -> ChatwootClient:
    """A client for one piece of work (`step`, about `handoff` when there is one).

    Every request takes its place in the per-minute budget shared by every process (waiting at most
    `wait_seconds` for the next minute or a short pause), is recorded as a ChatwootCall, and a 429 (G: no
    Retry-After) or an outage pauses every caller until a probe gets through; a call meeting the pause raises
    ChatwootDeferred: callers see one "not now" however it arose. `step` and `handoff` may be callables when one
    client (one connection) serves several steps or handoffs: read at each call.
    ChatwootConfigurationError when the settings are incomplete.
    """
    missing = [name for name in CHATWOOT_SETTINGS if not getattr(settings, name)]
    if missing:
        raise ChatwootConfigurationError(f"defina {', '.join(missing)} (veja o README e `manage.py check_chatwoot`).")
    calls = _Calls(step, handoff, wait_seconds)
    chatwoot_settings = ChatwootSettings(
        base_url=settings.CHATWOOT_BASE_URL,
        account_id=settings.CHATWOOT_ACCOUNT_ID or 0,
        api_token=settings.CHATWOOT_API_TOKEN,
        inbox_id=settings.CHATWOOT_INBOX_ID,
        connect_timeout=settings.CHATWOOT_CONNECT_TIMEOUT,
        read_timeout=settings.CHATWOOT_READ_TIMEOUT,
    )
    return ChatwootClient(
        chatwoot_settings,
        before_call=calls.before,
        on_call=calls.after,
        on_rate_limited=_pause_everyone,
        session=_thread_session(chatwoot_settings),
    )


_threads = threading.local()
SESSIONS_PER_THREAD = 4  # settings change only in tests (a sandbox per test): a few is plenty


def _thread_session(chatwoot_settings: ChatwootSettings) -> requests.Session:
    """This thread's session for these settings: the connection to Chatwoot (its TLS handshake included) serves the
    thread's next clients instead of one connection per attempt. Per thread, as a requests Session is not safe to
    share between threads."""
    sessions = _threads.__dict__.setdefault("sessions", {})
    if chatwoot_settings not in sessions:
        if len(sessions) >= SESSIONS_PER_THREAD:
            for session in sessions.values():
                session.close()
            sessions.clear()
        sessions[chatwoot_settings] = chatwoot_session(chatwoot_settings)
    return sessions[chatwoot_settings]


class _Calls:
    """One client's calls: through the shared throttle (noting whether the request in flight is the probe after a
    429), then audited on the step and handoff of the moment."""

    def __init__(self, step, handoff, wait_seconds: float):
        self.step = step if callable(step) else lambda: step
        self.handoff = handoff if callable(handoff) else lambda: handoff
        self.wait = throttle.throttle_waiting(wait_seconds)
        self.probing = False

    def before(self) -> None:
        self.probing = self.wait()

    def after(self, record: CallRecord) -> None:
        unreachable = _unreachable.note(record)
        if self.probing and record.status != 429:  # a 429 paused everyone again already (_pause_everyone)
            throttle.throttle_probe_answered(not unreachable)
        self.probing = False
        if unreachable and _unreachable.outage():
            throttle.throttle_pause(outage=True)  # everyone waits, a little longer each time while it lasts
        call_audit(record, handoff=self.handoff(), step=self.step())


class _Unreachable:
    """The streak of calls in this process that Chatwoot did not answer: OUTAGE_AFTER of them is an outage."""

    def __init__(self):
        self.lock = threading.Lock()
        self.streak = 0

    def note(self, record: CallRecord) -> bool:
        unreachable = record.status is None or record.status in GATEWAY_ERRORS
        with self.lock:
            self.streak = self.streak + 1 if unreachable else 0
        return unreachable

    def outage(self) -> bool:
        with self.lock:
            if self.streak < OUTAGE_AFTER:
                return False
            self.streak = 0
            return True


_unreachable = _Unreachable()


def call_audit(record: CallRecord, *, handoff: Handoff | None, step: str) -> None:
    """The audit row of one Chatwoot call."""
    ChatwootCall.objects.create(
        handoff_id=handoff.pk if handoff is not None else None,
        step=step,
        method=record.method,
        path=record.path,
        status=record.status,
        duration_ms=record.duration_ms,
        request=record.request,
        response=record.response,
        error_class=record.error_class,
    )


def _pause_everyone(err: ChatwootRateLimited) -> None:
    raise throttle.ChatwootDeferred(throttle.throttle_pause(), throttle.PAUSED) from err
