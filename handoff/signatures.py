"""Chatwoot's webhook signature (API-NOTES F.6): "sha256=" + HMAC-SHA256(secret, "<timestamp>.<raw body>")."""

import hashlib
import hmac
import time


class SignatureError(Exception):
    """The delivery is not provably from our Chatwoot; the message says why, for the log (never the secret)."""


def signature_for(secret: str, timestamp: str, body: bytes) -> str:
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def signature_verify(
    *,
    body: bytes,
    timestamp: str | None,
    signature: str | None,
    secrets: list[str],
    tolerance: int,
    now: float | None = None,
) -> None:
    """Raise SignatureError unless one of the secrets signed these exact bytes at an acceptable time.

    Every secret is tried (rotation), each in constant time, over the raw bytes: re-serialised JSON differs.
    """
    if not secrets:
        raise SignatureError("no webhook secret configured (CHATWOOT_WEBHOOK_SECRETS)")
    if not timestamp or not signature:
        raise SignatureError("missing X-Chatwoot-Timestamp or X-Chatwoot-Signature")
    try:
        sent_at = int(timestamp)
    except ValueError:
        raise SignatureError("X-Chatwoot-Timestamp is not a unix time") from None
    if abs((now if now is not None else time.time()) - sent_at) > tolerance:
        raise SignatureError(f"timestamp outside ±{tolerance}s")
    matches = [hmac.compare_digest(signature_for(secret, timestamp, body), signature) for secret in secrets]
    if not any(matches):
        raise SignatureError("signature does not match any configured secret")
