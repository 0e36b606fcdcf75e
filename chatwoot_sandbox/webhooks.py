"""Webhook transport like Chatwoot's WebhookJob: compact JSON, HMAC-SHA256 signature, one attempt (F.5, F.6)."""

import hashlib
import hmac
import json
import logging
import queue
import threading
import time
import urllib.request
import uuid

logger = logging.getLogger(__name__)

TIMEOUT_SECONDS = 5.0  # F.5: WEBHOOK_TIMEOUT default
# F.3: ActiveSupport escapes these in every JSON string.
ESCAPES = {"&": "\\u0026", "<": "\\u003c", ">": "\\u003e", "\u2028": "\\u2028", "\u2029": "\\u2029"}
# F.1: the events an account webhook may subscribe to; without `subscriptions` it gets the first eight.
ACCOUNT_EVENTS = (
    "conversation_created",
    "conversation_status_changed",
    "conversation_updated",
    "message_created",
    "message_updated",
    "contact_created",
    "contact_updated",
    "webwidget_triggered",
    "inbox_created",
    "inbox_updated",
    "conversation_typing_on",
    "conversation_typing_off",
)
DEFAULT_SUBSCRIPTIONS = ACCOUNT_EVENTS[:8]


def chatwoot_json(payload) -> bytes:
    """Rails' `payload.to_json`: compact, UTF-8, non-ASCII kept, & < > escaped."""
    text = json.dumps(payload, separators=(",", ":"), ensure_ascii=False)
    for char, escaped in ESCAPES.items():
        text = text.replace(char, escaped)
    return text.encode()


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """F.6: "sha256=" + hex HMAC-SHA256(secret, "<timestamp>." + raw body)."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def delivery_headers(secret: str, body: bytes, *, timestamp: str | None = None) -> dict:
    timestamp = timestamp or str(int(time.time()))
    return {
        "Content-Type": "application/json",
        "Accept": "application/json",
        "User-Agent": "Ruby",
        "X-Chatwoot-Delivery": str(uuid.uuid4()),
        "X-Chatwoot-Timestamp": timestamp,
        "X-Chatwoot-Signature": signature(secret, timestamp, body),
    }


class WebhookSender:
    """Posts the events the webhook subscribes to (F.1) from one background thread, like a Sidekiq worker; F.5: never
    retried, failures only logged."""

    def __init__(self, url: str, secret: str, *, timeout: float = TIMEOUT_SECONDS, subscriptions=None):
        if not url.startswith(("http://", "https://")):
            raise ValueError(f"webhook URL must be http(s): {url}")  # F.5: Chatwoot validates the same
        subscriptions = tuple(DEFAULT_SUBSCRIPTIONS if subscriptions is None else subscriptions)
        if not subscriptions or set(subscriptions) - set(ACCOUNT_EVENTS):
            raise ValueError(f"Subscriptions Invalid events: {sorted(set(subscriptions) - set(ACCOUNT_EVENTS))}")  # F.1
        self.url, self.secret, self.timeout, self.subscriptions = url, secret, timeout, frozenset(subscriptions)
        self.deliveries = []  # (event, HTTP status or error text)
        self._queue = queue.Queue()
        # Net::HTTP posts directly; an HTTP proxy from the environment would only get in the way of local receivers.
        self._opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        self._thread = threading.Thread(target=self._run, name="chatwoot-sandbox-webhooks", daemon=True)
        self._thread.start()

    def enqueue(self, payload: dict) -> None:
        if payload.get("event") in self.subscriptions:
            self._queue.put(payload)

    def wait(self, timeout: float = 5.0) -> bool:
        """True once every queued delivery has been attempted."""
        deadline = time.monotonic() + timeout
        while self._queue.unfinished_tasks and time.monotonic() < deadline:
            time.sleep(0.01)
        return not self._queue.unfinished_tasks

    def stop(self) -> None:
        self._queue.put(None)

    def _run(self) -> None:
        while (payload := self._queue.get()) is not None:
            try:
                self.deliveries.append((payload.get("event"), self._post(payload)))
            finally:
                self._queue.task_done()

    def _post(self, payload: dict):
        body = chatwoot_json(payload)
        request = urllib.request.Request(  # noqa: S310 - the scheme is checked in __init__
            self.url, data=body, headers=delivery_headers(self.secret, body), method="POST"
        )
        try:
            with self._opener.open(request, timeout=self.timeout) as response:
                return response.status
        except Exception as error:  # F.5: any failure is logged as "Invalid webhook URL" and dropped
            logger.warning("Chatwoot sandbox webhook %s to %s failed: %s", payload.get("event"), self.url, error)
            return getattr(error, "code", None) or repr(error)
