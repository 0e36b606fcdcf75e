"""A subscriber for Nexa's events, as a test's local HTTP server: it verifies every signature with its own
implementation of the Standard Webhooks scheme (not the library Nexa signs with) and records what it accepted."""

import base64
import hashlib
import hmac
import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

TOLERANCE_SECONDS = 300


def signature_verify(secret: str, headers: dict, body: bytes) -> bool:
    """The specification, from scratch: HMAC-SHA256 with the base64 key after whsec_, over id.timestamp.body, compared
    with each "v1,<base64>" in webhook-signature; the timestamp within five minutes."""
    webhook_id, timestamp = headers.get("webhook-id", ""), headers.get("webhook-timestamp", "")
    if not webhook_id or not timestamp.isdigit() or abs(time.time() - int(timestamp)) > TOLERANCE_SECONDS:
        return False
    key = base64.b64decode(secret.removeprefix("whsec_"))
    expected = hmac.new(key, f"{webhook_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    for candidate in headers.get("webhook-signature", "").split():
        version, _, encoded = candidate.partition(",")
        if version == "v1" and hmac.compare_digest(base64.b64decode(encoded), expected):
            return True
    return False


@dataclass
class EventReceiver:
    """`answers`: statuses to give, in turn, before answering 200 (e.g. [500, 500]); `down`: refuse everything
    with 503 while set. Accepted events are kept in arrival order, with their webhook-id."""

    secret: str
    answers: list = field(default_factory=list)
    down: bool = False
    accepted: list = field(default_factory=list)
    refused: list = field(default_factory=list)
    bad_signatures: int = 0

    def __post_init__(self):
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                headers = {name.lower(): value for name, value in self.headers.items()}
                status = receiver._answer(headers, body)
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/nexa"

    def _answer(self, headers: dict, body: bytes) -> int:
        with self.lock:
            if not signature_verify(self.secret, headers, body):
                self.bad_signatures += 1
                return 401
            if self.down:
                self.refused.append(headers["webhook-id"])
                return 503
            if self.answers:
                self.refused.append(headers["webhook-id"])
                return self.answers.pop(0)
            self.accepted.append((headers["webhook-id"], json.loads(body)))
            return 200

    def start(self) -> "EventReceiver":
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def types(self) -> list[str]:
        with self.lock:
            return [event["type"] for _, event in self.accepted]
