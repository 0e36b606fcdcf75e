"""HTTP front: /api/ with latency, request budget and faults; the HTML page and the /sandbox/ control routes."""

import json
import re
import socket
import struct
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

from .api import NO_ROUTE, dispatch
from .faults import BEFORE_WORK, pause
from .page import page_action, page_html
from .state import ApiError
from .webhooks import chatwoot_json

RETRY_LATER = b"Retry later\n"  # G: rack-attack's default responder, no Retry-After
SERVER_ERROR = {"status": 500, "error": "Internal Server Error"}
RAILS_404 = (
    b"<!DOCTYPE html>\n<html><head><title>The page you were looking for doesn't exist (404)</title></head>"
    b"<body><h1>The page you were looking for doesn't exist.</h1></body></html>\n"
)
ACTION_PATH = re.compile(r"^/sandbox/conversations/(\d+)/(\w+)$")


class SandboxServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False  # a request sleeping in timeout_after_commit must not hold up stop()

    def __init__(self, address, sandbox):
        super().__init__(address, SandboxHandler)
        self.sandbox = sandbox


class SandboxHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out in two writes; Nagle would add ~40 ms per answer

    def do_GET(self):
        self.route("GET")

    def do_POST(self):
        self.route("POST")

    def do_PUT(self):
        self.route("PUT")

    def do_PATCH(self):
        self.route("PATCH")

    def do_DELETE(self):
        self.route("DELETE")

    def log_message(self, format, *args):
        pass  # the request log lives in Sandbox.requests

    def route(self, method: str) -> None:
        url = urlsplit(self.path)
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if url.path.startswith("/api/"):
            self.api(method, url.path, url.query, raw)
        elif url.path == "/" or url.path.startswith("/sandbox/"):
            self.control(method, url.path, raw)
        else:
            self.not_found()

    def not_found(self) -> None:
        """I: unknown routes get Rails' public 404, as JSON when the client asks for JSON."""
        if "application/json" in (self.headers.get("Accept") or ""):
            return self.send(404, b'{"status":404,"error":"Not Found"}', "application/json; charset=utf-8")
        self.send(404, RAILS_404, "text/html; charset=utf-8")

    def api(self, method: str, path: str, query: str, raw: bytes) -> None:
        sandbox = self.server.sandbox
        pause(sandbox.latency_ms / 1000)
        if not sandbox.budget.allow():
            sandbox.log_request(method, path, 429)
            return self.send(429, RETRY_LATER, "text/plain")
        fault = sandbox.faults.draw(method)
        if fault in BEFORE_WORK:
            sandbox.log_request(method, path, fault)
            return self.fault_before_work(fault)
        try:
            status, body = dispatch(sandbox.state, method, path, query, raw, self.headers)
        except Exception:  # a sandbox bug should look like Rails' 500, not a dropped connection
            sandbox.logger.exception("Chatwoot sandbox failed on %s %s", method, path)
            status, body = 500, SERVER_ERROR
        sandbox.log_request(method, path, fault or status)
        if fault == "reset_after_commit":
            return self.reset()
        if fault == "timeout_after_commit":
            pause(sandbox.faults.slow_seconds)
        if body is NO_ROUTE:
            return self.not_found()
        self.send(status, chatwoot_json(body), "application/json; charset=utf-8")

    def fault_before_work(self, fault: str) -> None:
        if fault == "error":
            self.send(500, chatwoot_json(SERVER_ERROR), "application/json; charset=utf-8")
        elif fault == "429":
            self.send(429, RETRY_LATER, "text/plain")
        else:
            self.reset()

    def reset(self) -> None:
        """Drop the connection with a TCP RST and no response at all."""
        self.close_connection = True
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.connection.close()

    def control(self, method: str, path: str, raw: bytes) -> None:
        sandbox = self.server.sandbox
        action = ACTION_PATH.match(path)
        if method == "GET" and path == "/":
            self.send(200, page_html(sandbox).encode(), "text/html; charset=utf-8")
        elif method == "GET" and path == "/sandbox/state":
            self.send(200, json.dumps(sandbox.state_dump(), default=str).encode(), "application/json")
        elif method == "POST" and path == "/sandbox/reset":
            sandbox.reset()
            self.send(200, b'{"reset":true}', "application/json")
        elif method == "POST" and action:
            self.page_action(int(action.group(1)), action.group(2), raw)
        else:
            self.not_found()

    def page_action(self, display_id: int, action: str, raw: bytes) -> None:
        form = dict(parse_qsl(raw.decode(), keep_blank_values=True))
        try:
            page_action(self.server.sandbox, display_id, action, form)
        except (ApiError, ValueError, KeyError) as error:
            return self.send(422, f"{action} failed: {error}\n".encode(), "text/plain; charset=utf-8")
        self.send(303, b"", "text/plain", location=f"/#conversation-{display_id}")

    def send(self, status: int, body: bytes, content_type: str, location: str | None = None) -> None:
        try:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            if location:
                self.send_header("Location", location)
            self.end_headers()
            self.wfile.write(body)
        except OSError:
            self.close_connection = True  # the client gave up (e.g. its read timeout fired first)
