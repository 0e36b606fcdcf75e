"""Settings shared by every environment; every value a deployment may change comes from the environment."""

import sys
from pathlib import Path

import environ
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

SECRET_KEY = env("DJANGO_SECRET_KEY", default="dev-only-insecure-key-change-me")
DEBUG = env.bool("DJANGO_DEBUG", default=False)
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework_api_key",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_q",
    "leads",
    "handoff",
    "dashboard",
    "outbound",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "nexa.middleware.RequestBodyLimitMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "nexa.middleware.ApiLanguageMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "nexa.urls"
WSGI_APPLICATION = "nexa.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# SQLite is the embedded default for a first run; production points DATABASE_URL at PostgreSQL.
if "DATABASE_URL" not in env:
    (BASE_DIR / "var").mkdir(exist_ok=True)
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'var' / 'nexa.sqlite3'}")}
DATABASES["default"]["ATOMIC_REQUESTS"] = False
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The dashboard's covering indexes INCLUDE columns only PostgreSQL uses; SQLite builds them without.
    SILENCED_SYSTEM_CHECKS = ["models.W040"]
    # WAL and a busy timeout let the web server and the worker share one SQLite file; IMMEDIATE transactions
    # take the write lock up front, so a transaction that reads then writes waits instead of failing "locked".
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "timeout": 20,
            "transaction_mode": "IMMEDIATE",
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
    )
else:
    # The development server runs each request in a thread of its own: a kept connection would outlive its thread
    # and, under load, exhaust PostgreSQL's max_connections. Django's advice: no persistent connections there.
    RUNSERVER = sys.argv[1:2] == ["runserver"]
    DATABASES["default"].setdefault("CONN_MAX_AGE", 0 if RUNSERVER else env.int("DATABASE_CONN_MAX_AGE", default=60))
    DATABASES["default"].setdefault("CONN_HEALTH_CHECKS", True)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env("REDIS_URL", default="")
if REDIS_URL:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = env("LANGUAGE_CODE", default="pt-br")
# A browser asking for any other language gets pt-BR; the app's own labels are translated in LOCALE_PATHS.
LANGUAGES = [("pt-br", "Português (Brasil)"), ("en", "English")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = env("TIME_ZONE", default="America/Sao_Paulo")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = env("STATIC_ROOT", default=str(BASE_DIR / "var" / "static"))
Path(STATIC_ROOT).mkdir(parents=True, exist_ok=True)  # WhiteNoise warns on every start when it is missing
# Without collectstatic (a local run) WhiteNoise finds the files in the apps; production serves the collected ones.
WHITENOISE_USE_FINDERS = True

# Request bodies: the API refuses anything larger with 413 before reading it (nexa.middleware).
API_MAX_BODY_BYTES = env.int("API_MAX_BODY_BYTES", default=2 * 1024 * 1024)
DATA_UPLOAD_MAX_MEMORY_SIZE = API_MAX_BODY_BYTES
# Requests per API key (DRF rate syntax: N/second|minute|hour|day); shared across processes with Redis.
API_RATE_LIMIT = env("API_RATE_LIMIT", default="1200/minute")

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "leads.authentication.BearerAPIKeyAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    # Stricter than IsAuthenticated: writes need an API key; staff sessions may read (nexa/permissions.py).
    "DEFAULT_PERMISSION_CLASSES": ["nexa.permissions.ApiKeyOrStaffReader"],
    "DEFAULT_THROTTLE_CLASSES": ["nexa.throttling.ApiClientRateThrottle"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_SCHEMA_CLASS": "leads.schema.ScopedAutoSchema",
    "EXCEPTION_HANDLER": "nexa.errors.exception_handler",
    "UNAUTHENTICATED_USER": None,
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Nexa API",
    "DESCRIPTION": (
        "Lead ingest for Atlas Nexa and the bridge to Chatwoot. "
        "Authenticate with `Authorization: Bearer <key>` (create one with `manage.py create_api_key NAME`)."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    # A transcript's messages have three senders; Atlas writes two of them.
    "ENUM_NAME_OVERRIDES": {
        "TranscriptSenderEnum": "leads.models.Message.Sender",
        "AtlasSenderEnum": [("bot", "Bot"), ("lead", "Lead")],
    },
}

# django-q2: the ORM broker keeps a queued task in the same database, so it commits with the data
# that caused it. `retry` must exceed `timeout`, or a slow task is handed to a second worker.
Q_CLUSTER = {
    "name": "nexa",
    "orm": "default",
    "workers": env.int("Q_WORKERS", default=2),
    "timeout": env.int("Q_TIMEOUT", default=300),
    "retry": env.int("Q_TIMEOUT", default=300) + 120,
    "max_attempts": 1,
    "ack_failures": True,
    "catch_up": False,
    "poll": 0.5,
    # Successful tasks are not kept: each delivery and handoff records its own outcome, and keeping the last 250
    # (django-q2's default) re-reads and locks all of them after every task. Failed tasks are kept.
    "save_limit": -1,
    "label": _("Tasks"),  # the worker's models in the admin
}

# Phone identity: numbers without a country code are read in this region.
PHONE_DEFAULT_REGION = env("PHONE_DEFAULT_REGION", default="BR")

# Chatwoot (used by the handoff pipeline and the webhook receiver).
CHATWOOT_BASE_URL = env("CHATWOOT_BASE_URL", default="")
CHATWOOT_ACCOUNT_ID = env.int("CHATWOOT_ACCOUNT_ID", default=None)
CHATWOOT_API_TOKEN = env("CHATWOOT_API_TOKEN", default="")
# The default inbox: where a handoff goes when neither Atlas, the lead's history nor a routing rule names another.
CHATWOOT_INBOX_ID = env.int("CHATWOOT_INBOX_ID", default=None)
# Users whose messages are the bot's or the company phone's, never a human reply (besides those Nexa discovers:
# Evolution's, from the "WAID:" source_id of what it mirrors; CHANNELS §2.3).
CHATWOOT_INTEGRATION_USER_IDS = env.list("CHATWOOT_INTEGRATION_USER_IDS", cast=int, default=[])
CHATWOOT_WEBHOOK_SECRETS = env.list("CHATWOOT_WEBHOOK_SECRETS", default=[])
CHATWOOT_WEBHOOK_TOLERANCE_SECONDS = env.int("CHATWOOT_WEBHOOK_TOLERANCE_SECONDS", default=300)
CHATWOOT_WEBHOOK_MAX_BYTES = env.int("CHATWOOT_WEBHOOK_MAX_BYTES", default=1024 * 1024)
# Chatwoot before 4.11.2 signs nothing (API-NOTES F.6): an explicit opt-in accepts ?token=<this> in the URL instead.
CHATWOOT_WEBHOOK_URL_TOKEN = env("CHATWOOT_WEBHOOK_URL_TOKEN", default="")

CHATWOOT_CONNECT_TIMEOUT = env.float("CHATWOOT_CONNECT_TIMEOUT", default=3.05)
CHATWOOT_READ_TIMEOUT = env.float("CHATWOOT_READ_TIMEOUT", default=10.0)
# Nexa's own budget, under Chatwoot's default of 3000 requests/minute per client IP (API-NOTES G).
CHATWOOT_RATE_LIMIT_PER_MINUTE = env.int("CHATWOOT_RATE_LIMIT_PER_MINUTE", default=3000)
# G: a 429 carries no Retry-After: every caller pauses this long, then one probe call goes through; another 429
# makes the pause four times longer, never past the next clock minute, when Chatwoot's window resets. Short, so a
# sporadic 429 costs everyone a fraction of a second; a spent budget costs the rest of its minute and a few probes.
CHATWOOT_PAUSE_ON_429_SECONDS = env.float("CHATWOOT_PAUSE_ON_429_SECONDS", default=0.25)
# A worker whose call finds this minute's budget spent waits for the next one, up to this long per attempt,
# instead of giving the handoff back to the next sweep.
CHATWOOT_THROTTLE_MAX_WAIT_SECONDS = env.int("CHATWOOT_THROTTLE_MAX_WAIT_SECONDS", default=60)
# SSRF guard: Chatwoot on a private, loopback or link-local address is refused unless allowed. On here so the
# sandbox on 127.0.0.1 works; off in production, where Chatwoot behind a private address must be opted into.
CHATWOOT_ALLOW_PRIVATE_NETWORK = env.bool("CHATWOOT_ALLOW_PRIVATE_NETWORK", default=True)
# Production refuses an http:// CHATWOOT_BASE_URL (the token would cross the network in clear) unless this is set.
CHATWOOT_ALLOW_INSECURE_HTTP = env.bool("CHATWOOT_ALLOW_INSECURE_HTTP", default=False)

HANDOFF_SCORE_THRESHOLD = env.int("HANDOFF_SCORE_THRESHOLD", default=7)
HANDOFF_LABELS = env.list("HANDOFF_LABELS", default=["lead-qualificado", "atlas-nexa"])
# The calibration sample: this share (0.05 = 5%) of the leads scored just below the threshold (its two scores under
# it) is handed off too, with the labels above and this one, so their conversion is measured. Off by default.
HANDOFF_CALIBRATION_SHARE = env.float("HANDOFF_CALIBRATION_SHARE", default=0.0)
HANDOFF_CALIBRATION_LABEL = env("HANDOFF_CALIBRATION_LABEL", default="amostra-calibracao")
HANDOFF_MAX_ATTEMPTS = env.int("HANDOFF_MAX_ATTEMPTS", default=12)
HANDOFF_RETRY_BASE_SECONDS = env.float("HANDOFF_RETRY_BASE_SECONDS", default=15.0)
HANDOFF_RETRY_CAP_SECONDS = env.float("HANDOFF_RETRY_CAP_SECONDS", default=600.0)
# Longer than the worker's task timeout (Q_CLUSTER), so a lease only expires once its worker is gone.
HANDOFF_LEASE_SECONDS = env.int("HANDOFF_LEASE_SECONDS", default=360)
HANDOFF_NOTE_MAX_CHARS = env.int("HANDOFF_NOTE_MAX_CHARS", default=140_000)  # Chatwoot's limit is 150,000 (D)
# Handoff attempts at once (threads of the one dispatcher: Chatwoot calls are I/O, so a hung call holds a thread, and
# with 5% of calls hanging for the read timeout most threads are waiting). Each thread holds a database connection.
# SQLite writes one transaction at a time: a few threads are all it can use.
HANDOFF_THREADS = env.int("HANDOFF_THREADS", default=4 if DATABASES["default"]["ENGINE"].endswith("sqlite3") else 32)
# A call that times out, is reset or answered 5xx is retried this many times inside the attempt, after a short
# jittered pause (HANDOFF_STEP_RETRY_SECONDS, doubling up to 8 times it), before the attempt gives up to the longer
# backoff above.
HANDOFF_STEP_RETRIES = env.int("HANDOFF_STEP_RETRIES", default=5)
HANDOFF_STEP_RETRY_SECONDS = env.float("HANDOFF_STEP_RETRY_SECONDS", default=0.5)
# A lead Nexa handed off before writes again and Evolution (or Chatwoot) opens a new conversation: "handoff" routes
# it like a handoff (back to its agent, with a note of what happened since); "bot" leaves it to Atlas until Atlas
# qualifies it again.
HANDOFF_RETURNING_POLICY = env("HANDOFF_RETURNING_POLICY", default="handoff")

# Events for subscribers (Atlas, n8n: admin → Assinaturas), sent by the handoff dispatcher on threads of their own.
OUTBOUND_THREADS = env.int("OUTBOUND_THREADS", default=4)
OUTBOUND_CONNECT_TIMEOUT = env.float("OUTBOUND_CONNECT_TIMEOUT", default=3.05)
OUTBOUND_READ_TIMEOUT = env.float("OUTBOUND_READ_TIMEOUT", default=5.0)
# A delivery answered 5xx or 429, or not answered, is retried after about this long, doubling (with jitter) up to an
# hour between attempts, for a day; then it is kept as failed, to be sent again from the admin.
OUTBOUND_RETRY_BASE_SECONDS = env.float("OUTBOUND_RETRY_BASE_SECONDS", default=5.0)
# As for Chatwoot: private addresses and plain http are refused in production unless allowed (n8n on the same
# Docker network is private: allow it there).
OUTBOUND_ALLOW_PRIVATE_NETWORK = env.bool("OUTBOUND_ALLOW_PRIVATE_NETWORK", default=True)
OUTBOUND_ALLOW_INSECURE_HTTP = env.bool("OUTBOUND_ALLOW_INSECURE_HTTP", default=True)

# Outcomes when Chatwoot resolves a conversation: a lost label wins, then a won label, else the default.
HANDOFF_LOST_LABELS = env.list("HANDOFF_LOST_LABELS", default=["perdido"])
HANDOFF_WON_LABELS = env.list("HANDOFF_WON_LABELS", default=["convertido", "ganho"])
HANDOFF_DEFAULT_OUTCOME = env("HANDOFF_DEFAULT_OUTCOME", default="convertido")
# The conversation custom attributes where agents record a deal's value ("R$ 12.500,00") and why a lead was lost.
HANDOFF_DEAL_VALUE_ATTRIBUTE = env("HANDOFF_DEAL_VALUE_ATTRIBUTE", default="valor_negocio")
HANDOFF_LOSS_REASON_ATTRIBUTE = env("HANDOFF_LOSS_REASON_ATTRIBUTE", default="motivo_perda")
# The dashboard's conversion by interest: an interest containing one of these words is counted under it (the first
# that matches, whatever the case and accents), e.g. "usina,residencial,financiamento"; the rest by their own text.
DASHBOARD_INTEREST_KEYWORDS = env.list("DASHBOARD_INTEREST_KEYWORDS", default=[])
# Speed-to-lead: minutes for the first human reply, measured from the handoff (routing rules may override).
HANDOFF_SLA_MINUTES = env.int("HANDOFF_SLA_MINUTES", default=5)
HANDOFF_SLA_MAX_ESCALATIONS = env.int("HANDOFF_SLA_MAX_ESCALATIONS", default=2)
# Optional business hours for the SLA clock, in TIME_ZONE, e.g. "mon-fri 08:00-18:00, sat 09:00-13:00".
HANDOFF_BUSINESS_HOURS = env("HANDOFF_BUSINESS_HOURS", default="")
# Webhooks are never re-sent (F.5): conversations silent for this long are polled.
HANDOFF_RECONCILE_AFTER_MINUTES = env.int("HANDOFF_RECONCILE_AFTER_MINUTES", default=30)
HANDOFF_RECONCILE_BATCH = env.int("HANDOFF_RECONCILE_BATCH", default=100)
# A delivery still `received` this long after arriving lost its worker (django-q runs a task once): enqueued again,
# at most this many per run, and failed for the admin's "Reprocessar" after this many tries.
WEBHOOK_REQUEUE_AFTER_MINUTES = env.int("WEBHOOK_REQUEUE_AFTER_MINUTES", default=5)
WEBHOOK_REQUEUE_BATCH = env.int("WEBHOOK_REQUEUE_BATCH", default=200)
WEBHOOK_MAX_ATTEMPTS = env.int("WEBHOOK_MAX_ATTEMPTS", default=3)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", default="INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}

# Retention (handoff.services.retention, hourly): Chatwoot call audit rows and django-q2's finished-task rows are
# deleted after NEXA_AUDIT_RETENTION_DAYS, processed or ignored webhook deliveries after NEXA_WEBHOOK_RETENTION_DAYS
# (received and failed ones are kept until they are dealt with); 0 keeps that kind for ever. Deleted in batches of
# NEXA_PURGE_BATCH_SIZE rows, each its own short statement.
NEXA_AUDIT_RETENTION_DAYS = env.int("NEXA_AUDIT_RETENTION_DAYS", default=90)
NEXA_WEBHOOK_RETENTION_DAYS = env.int("NEXA_WEBHOOK_RETENTION_DAYS", default=30)
NEXA_PURGE_BATCH_SIZE = env.int("NEXA_PURGE_BATCH_SIZE", default=1000)
