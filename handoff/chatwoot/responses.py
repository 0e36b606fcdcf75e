"""What Chatwoot answered: the body or a typed error, and the audit record of the call, the token redacted."""

import json
import time
from typing import Any

import requests

from handoff.chatwoot.errors import (
    ChatwootAuthError,
    ChatwootNotFound,
    ChatwootPermanentError,
    ChatwootRateLimited,
    ChatwootTransientError,
)
from handoff.chatwoot.types import CallRecord

RECORD_LIMIT = 4000


def body_or_raise(response: requests.Response, method: str, path: str, *, token: str = "") -> Any:
    status = response.status_code
    try:
        body = response.json() if response.content else None
    except ValueError:
        body = _redact(response.text, token)[:RECORD_LIMIT]
    if 200 <= status < 300:
        return body if body is not None else {}
    message = f"Chatwoot answered {status} to {method} {path}: {_error_text(body, token)}"
    kwargs = {"status": status, "body": body, "method": method, "path": path}
    if status == 401:
        raise ChatwootAuthError(message, **kwargs)
    if status == 429:
        raise ChatwootRateLimited(message, **kwargs)
    if status >= 500:
        raise ChatwootTransientError(message, **kwargs)
    if status == 404:
        raise ChatwootNotFound(message, **kwargs)
    raise ChatwootPermanentError(message, **kwargs)


def _error_text(body: Any, token: str = "") -> str:
    """I: errors come as {"error"}, {"errors": [...]}, or {"message", "attributes"}."""
    if isinstance(body, dict):
        for key in ("message", "error", "errors"):
            if body.get(key):
                value = body[key]
                return _redact("; ".join(map(str, value)) if isinstance(value, list) else str(value), token)
    return _redact(str(body or ""), token)[:300].strip()


def _redact(text: str, token: str) -> str:
    """The profile, a proxy's error page or a debug echo may repeat the token: it never reaches an audit row or log."""
    return text.replace(token, "[token]") if token else text


def sent_before_failure(err: requests.ConnectionError) -> bool:
    """A reset after the request went out is as ambiguous as a timeout; a refused connection is not."""
    text = repr(err)
    return not any(marker in text for marker in ("NewConnectionError", "NameResolutionError", "Connection refused"))


def call_record(method, path, json_body, params, response, error, started, *, token: str = "") -> CallRecord:
    request = {"json": json_body, "params": params} if params else json_body
    text = _redact(response.text, token)[:RECORD_LIMIT] if response is not None else ""
    return CallRecord(
        method=method,
        path=path,
        status=response.status_code if response is not None else None,
        duration_ms=int((time.monotonic() - started) * 1000),
        request=_truncate(request),
        response=text,
        error_class=type(error).__name__ if error else "",
    )


def _truncate(value: Any) -> Any:
    text = json.dumps(value, ensure_ascii=False, default=str)
    return value if len(text) <= RECORD_LIMIT else {"truncated": text[:RECORD_LIMIT]}
