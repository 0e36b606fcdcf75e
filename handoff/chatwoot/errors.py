"""Chatwoot errors by HTTP meaning (transient, permanent, auth, rate-limited); configuration errors stay outside."""

from typing import Any


class ChatwootConfigurationError(Exception):
    """Nexa is not configured to reach Chatwoot; retrying cannot help. Deliberately outside the error tree."""


class ChatwootError(Exception):
    """A Chatwoot call failed; carries what Chatwoot answered, if anything."""

    def __init__(self, message: str, *, status: int | None = None, body: Any = None, method: str = "", path: str = ""):
        super().__init__(message)
        self.status = status
        self.body = body
        self.method = method
        self.path = path


class ChatwootTransientError(ChatwootError):
    """Worth retrying later: timeouts, connection errors, 5xx, 429."""

    ambiguous = False  # True when Chatwoot may have done the work although we saw no answer


class ChatwootTimeout(ChatwootTransientError):
    ambiguous = True


class ChatwootConnectionError(ChatwootTransientError):
    """The connection failed; `ambiguous` when it broke after the request was sent."""

    def __init__(self, *args, ambiguous: bool, **kwargs):
        super().__init__(*args, **kwargs)
        self.ambiguous = ambiguous


class ChatwootRateLimited(ChatwootTransientError):
    """429: G says no Retry-After is sent, so the caller backs off on its own clock."""


class ChatwootPermanentError(ChatwootError):
    """A 4xx other than 401/429: retrying the same request gives the same answer."""

    @property
    def attributes(self) -> list[str]:
        """The fields a 422 names (B.2: key on `attributes`, never on the localised `message`)."""
        if isinstance(self.body, dict) and isinstance(self.body.get("attributes"), list):
            return [str(name) for name in self.body["attributes"]]
        return []


class ChatwootNotFound(ChatwootPermanentError):
    pass


class ChatwootAuthError(ChatwootError):
    """401: wrong, revoked or bot/platform token, or a role that may not do this (A, I)."""
