"""Precise faults between Nexa and the sandbox: a transport adapter that forwards to the real sandbox,
except where a rule says the request fails, or succeeds but the answer is lost."""

import re
from dataclasses import dataclass

import requests
from requests.adapters import HTTPAdapter


@dataclass
class Rule:
    method: str
    path: str  # regex searched in the URL path
    kind: str  # "timeout_after_success", "reset_before", "status:<code>", "before:<callable name>"
    times: int = 1
    before: object = None  # called before forwarding (e.g. a competitor creates the same contact)
    body: bytes = b""  # for "status:<code>": the answer's body (default: Chatwoot's for that status)


class FaultyTransport(HTTPAdapter):
    def __init__(self, rules: list[Rule]):
        super().__init__()
        self.rules = rules
        self.fired: list[tuple[str, str, str]] = []

    def send(self, request, **kwargs):
        rule = self._match(request)
        if rule is None:
            return super().send(request, **kwargs)
        rule.times -= 1
        self.fired.append((request.method, request.path_url, rule.kind))
        if rule.before:
            rule.before()
            return super().send(request, **kwargs)
        if rule.kind == "timeout_after_success":
            super().send(request, **kwargs)  # Chatwoot did the work; we never see the answer
            raise requests.ReadTimeout("read timed out (injected)")
        if rule.kind == "reset_before":
            raise requests.ConnectionError("Connection reset by peer (injected)")
        status = int(rule.kind.split(":")[1])
        response = requests.Response()
        response.status_code, response.url, response.request = status, request.url, request
        response._content = rule.body or (b"Retry later\n" if status == 429 else b'{"error":"injected"}')
        return response

    def _match(self, request) -> Rule | None:
        for rule in self.rules:
            if rule.times > 0 and rule.method == request.method and re.search(rule.path, request.path_url):
                return rule
        return None


def assert_paused_briefly():
    """After a 429 every caller pauses: briefly, and never past the next clock minute (API-NOTES G)."""
    from django.utils import timezone

    from handoff.models import ChatwootThrottle
    from handoff.throttle import WINDOW

    now = timezone.now()
    paused_until = ChatwootThrottle.objects.get().paused_until
    assert now < paused_until <= now.replace(second=0, microsecond=0) + WINDOW
    return paused_until
