"""Production settings: refuse to start insecure, and pass `manage.py check --deploy` cleanly."""

from django.core.exceptions import ImproperlyConfigured

from .base import *  # noqa: F403
from .base import CHATWOOT_ALLOW_INSECURE_HTTP, CHATWOOT_BASE_URL, env

if DEBUG:  # noqa: F405
    raise ImproperlyConfigured("DJANGO_DEBUG must be off in production.")
if (
    SECRET_KEY.startswith(("dev-only", "django-insecure"))  # noqa: F405
    or len(SECRET_KEY) < 50  # noqa: F405
    or len(set(SECRET_KEY)) < 5  # noqa: F405
):
    raise ImproperlyConfigured(
        "DJANGO_SECRET_KEY is missing or insecure: set at least 50 random characters, e.g. "
        "python -c 'import secrets; print(secrets.token_urlsafe(64))'"
    )

# Chatwoot beside Nexa on a private network (the compose stack) is an explicit choice, never the default.
CHATWOOT_ALLOW_PRIVATE_NETWORK = env.bool("CHATWOOT_ALLOW_PRIVATE_NETWORK", default=False)
if CHATWOOT_BASE_URL and not CHATWOOT_BASE_URL.lower().startswith("https://") and not CHATWOOT_ALLOW_INSECURE_HTTP:
    raise ImproperlyConfigured(
        f"CHATWOOT_BASE_URL must use https:// in production (got {CHATWOOT_BASE_URL!r}): the API token travels "
        "in every request. Set CHATWOOT_ALLOW_INSECURE_HTTP=true only for a Chatwoot reached over a private network."
    )

# Subscribers (n8n, Atlas) get Nexa's signed events over https, at public addresses, unless explicitly allowed.
OUTBOUND_ALLOW_PRIVATE_NETWORK = env.bool("OUTBOUND_ALLOW_PRIVATE_NETWORK", default=False)
OUTBOUND_ALLOW_INSECURE_HTTP = env.bool("OUTBOUND_ALLOW_INSECURE_HTTP", default=False)

# WhiteNoise serves the collected, compressed and fingerprinted static files (admin, API docs).
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}

WHITENOISE_USE_FINDERS = False

SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("DJANGO_SECURE_SSL_REDIRECT", default=True)
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]
SECURE_HSTS_SECONDS = env.int("DJANGO_SECURE_HSTS_SECONDS", default=31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SECURE_CONTENT_TYPE_NOSNIFF = True
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
X_FRAME_OPTIONS = "DENY"
