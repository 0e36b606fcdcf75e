"""Standard Webhooks signatures (https://www.standardwebhooks.com): webhook-id, webhook-timestamp and
webhook-signature, "v1,<base64 HMAC-SHA256 of id.timestamp.body>" per secret, so receivers can use its libraries."""

import base64
import secrets
from datetime import UTC, datetime

from standardwebhooks.webhooks import Webhook

SECRET_PREFIX = "whsec_"  # noqa: S105 - the format's prefix, not a secret


def secret_generate() -> str:
    """A new signing secret, as the specification's libraries expect it: whsec_ and 32 random bytes in base64."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


SECRET_MIN_BYTES = 24


def secret_valid(secret: str) -> bool:
    """whsec_ and base64 of at least SECRET_MIN_BYTES random bytes (the library alone takes "whsec_AAAA")."""
    if not secret.startswith(SECRET_PREFIX):
        return False
    try:
        key = base64.b64decode(secret.removeprefix(SECRET_PREFIX), validate=True)
    except ValueError:
        return False
    return len(key) >= SECRET_MIN_BYTES


def signed_headers(*, webhook_id: str, body: str, secrets_: list[str], at: datetime) -> dict[str, str]:
    """The three headers for `body`, signed with every secret (space-separated, as during a rotation)."""
    at = at.astimezone(UTC)
    signatures = " ".join(Webhook(secret).sign(webhook_id, at, body) for secret in secrets_)
    return {
        "webhook-id": webhook_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": signatures,
    }
