"""Django settings, all read from the environment (django-environ).

With no environment at all the project runs embedded: a SQLite file under var/, an in-process channel
layer and an in-process Celery broker (`manage.py serve`). DATABASE_URL and REDIS_URL switch it to the
production wiring: PostgreSQL, a Redis channel layer and a Redis Celery broker feeding `gpu` workers.
"""

import sys
from datetime import timedelta
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"
VAR_DIR.mkdir(exist_ok=True)

env = environ.Env()

DEBUG = env.bool("DEBUG", default=False)
# A development install (`make run` sets PARLEY_DEV=1; DEBUG and the test suite imply it) may sign
# sessions with a public key. Anything else refuses to start without a key of its own.
DEVELOPMENT = env.bool("PARLEY_DEV", default=DEBUG or "pytest" in sys.modules)
DEVELOPMENT_SECRET_KEY = "parley-dev-only-insecure-secret-key-change-me-in-production"  # noqa: S105
SECRET_KEY = env("SECRET_KEY", default=DEVELOPMENT_SECRET_KEY if DEVELOPMENT else "")
if not SECRET_KEY or (SECRET_KEY == DEVELOPMENT_SECRET_KEY and not DEVELOPMENT):
    raise ImproperlyConfigured(
        "Set SECRET_KEY to a long random value (python -c 'import secrets; "
        "print(secrets.token_urlsafe(50))'), or PARLEY_DEV=1 for a development install."
    )
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

# --- HTTPS: set HTTPS=1 where the site is served over TLS -------------------------------------
# Behind a proxy that terminates TLS, TRUST_X_FORWARDED_PROTO=1 lets its X-Forwarded-Proto tell
# Django the request was secure; only set it when the proxy overwrites that header.
if env.bool("TRUST_X_FORWARDED_PROTO", default=False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
HTTPS = env.bool("HTTPS", default=False)
SECURE_SSL_REDIRECT = HTTPS
# Probes and scrapers inside the network call these over plain HTTP.
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^metrics$"]
SESSION_COOKIE_SECURE = HTTPS
CSRF_COOKIE_SECURE = HTTPS
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=365 * 24 * 3600) if HTTPS else 0
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=True)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=True)

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "channels",
    "chatbot.stores",
    "chatbot.conversations",
    "chatbot.knowledge",
    "chatbot.shop",
    "chatbot.embedded",
    "chatbot.dashboard",
    "chatbot.reports",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "chatbot.api",
    "chatbot.integrations",
    "chatbot.assistant",
    "chatbot.reliability",
    "axes",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as django-axes asks: answers a locked-out login with 429.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "chatbot.urls"
ASGI_APPLICATION = "chatbot.asgi.application"

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

DATABASES = {
    "default": env.db_url("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'parley.sqlite3'}"),
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The embedded server writes from the web loop and from worker threads at once.
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 30,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL;",
    }
    # A file (not :memory:) so that server and worker processes started by tests share it.
    _db_file = Path(DATABASES["default"]["NAME"])
    DATABASES["default"]["TEST"] = {"NAME": str(_db_file.with_name(f"test-{_db_file.name}"))}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# Every password login (dashboard, admin) goes through django-axes first: after AXES_FAILURE_LIMIT
# failures from one address, or against one account, logins from that address or to that account
# are refused until the cool-off ends (or `manage.py axes_reset`).
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("AXES_COOLOFF_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = ["ip_address", "username"]
AXES_RESET_ON_SUCCESS = True

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = BASE_DIR / "staticfiles"
STATIC_ROOT.mkdir(exist_ok=True)  # WhiteNoise scans it at start, collected or not
# WhiteNoise serves them. In production from `manage.py collectstatic`: content-hashed names cached
# for ten years, gzip and Brotli variants; the widget's stable URL (embedded in shops' pages) keeps
# a short cache. A development install serves the source files as they are, without collecting.
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEVELOPMENT
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}
WHITENOISE_USE_FINDERS = DEVELOPMENT
WHITENOISE_AUTOREFRESH = DEBUG

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {"chatbot": {"handlers": ["console"], "level": env("LOG_LEVEL", default="INFO")}},
}

# --- Channels and Celery: Redis in production, in-process when REDIS_URL is unset ---------------
REDIS_URL = env("REDIS_URL", default="")


def channel_layers(redis_url: str) -> dict:
    """Channel layer for a Redis URL, or the in-process layer for ''."""
    if not redis_url:
        return {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    return {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            # A long reply is hundreds of deltas; the default capacity of 100 would drop some.
            "CONFIG": {
                # redis-py 8 reads with a 5 s socket timeout by default, which kills the layer's
                # 5 s blocking receive on every idle socket: allow well over it. Its pool also
                # refuses a 101st connection at once: sockets connecting or leaving together (each
                # joins or leaves its group) need one each.
                "hosts": [{"address": redis_url, "socket_timeout": 15, "max_connections": 4096}],
                "capacity": 2000,
                "expiry": 120,
            },
        }
    }


CHANNEL_LAYERS = channel_layers(REDIS_URL)

# Seconds a broker message may stay unacknowledged before Redis hands it to another worker.
# Replies are acknowledged late, so this is how soon a killed worker's reply is taken over.
CELERY_VISIBILITY_TIMEOUT = env.int("CELERY_VISIBILITY_TIMEOUT", default=600)
CELERY_BROKER_URL = REDIS_URL or "memory://"
CELERY_RESULT_BACKEND = REDIS_URL or None
CELERY_BROKER_TRANSPORT_OPTIONS = (
    {
        "visibility_timeout": CELERY_VISIBILITY_TIMEOUT,
        # Sweep for a dead worker's messages every 10 s instead of every 100 s.
        "unacked_restore_throttle": 1,
    }
    if REDIS_URL
    else {"polling_interval": 0.02}
)
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Tasks that need the engine go to `gpu`, consumed only by inference workers.
CELERY_TASK_ROUTES = {"chatbot.conversations.tasks.generate_reply": {"queue": "gpu"}}
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True

# --- The engine and replies ------------------------------------------------------------------
ENGINE_MODEL = env("ENGINE_MODEL", default="smollm2-135m-instruct")
# "cpu": the engine's C kernels; "cuda" (or "cuda:N"): its Triton kernels with CUDA-graph decode.
ENGINE_DEVICE = env("ENGINE_DEVICE", default="cpu")
# The worker engine's paged KV cache and how many dialogues one step batches; a GPU worker serving
# a large model wants gigabytes here.
ENGINE_KV_CACHE_MB = env.int("ENGINE_KV_CACHE_MB", default=512)
ENGINE_MAX_NUM_SEQS = env.int("ENGINE_MAX_NUM_SEQS", default=64)
REPLY_MAX_TOKENS = env.int("REPLY_MAX_TOKENS", default=256)
REPLY_TEMPERATURE = env.float("REPLY_TEMPERATURE", default=0.3)
REPLY_TOP_P = env.float("REPLY_TOP_P", default=0.9)
REPLY_REPETITION_PENALTY = env.float("REPLY_REPETITION_PENALTY", default=1.1)
# A worker holding a conversation's reply renews this lease while it streams; a dead worker's
# lease lapses after this many seconds. Keep it below CELERY_VISIBILITY_TIMEOUT.
REPLY_LEASE_SECONDS = env.int("REPLY_LEASE_SECONDS", default=60)
# Frames one chat socket may send at once, then per second (chatbot/reliability/limits.py).
CHAT_FRAME_BURST = env.int("CHAT_FRAME_BURST", default=20)
CHAT_FRAMES_PER_SECOND = env.float("CHAT_FRAMES_PER_SECOND", default=2.0)
# Shopper messages per minute from one client address to one store, over all its sockets (0: no
# limit). Behind a proxy, run uvicorn with --proxy-headers so the address is the shopper's.
CHAT_MESSAGES_PER_MINUTE_PER_ADDRESS = env.int("CHAT_MESSAGES_PER_MINUTE_PER_ADDRESS", default=30)
# Chat sockets one address (an IPv6 /64) may open per minute, and model replies the widget may ask
# for per store and UTC day (0: no limit); past the budget, shoppers get a `budget_exhausted` error.
CHAT_CONNECTS_PER_MINUTE_PER_ADDRESS = env.int("CHAT_CONNECTS_PER_MINUTE_PER_ADDRESS", default=60)
CHAT_DAILY_REPLIES_PER_STORE = env.int("CHAT_DAILY_REPLIES_PER_STORE", default=5000)

# --- Dashboard: a dialogue quiet this long gets its outcome (chatbot/conversations/outcomes.py) ------
CONVERSATION_INACTIVE_MINUTES = env.int("CONVERSATION_INACTIVE_MINUTES", default=30)
CELERY_BEAT_SCHEDULE = {
    "close-inactive-conversations": {
        "task": "chatbot.dashboard.tasks.close_inactive_conversations",
        "schedule": 60.0,
    }
}

# --- Observability (chatbot/observability) ---------------------------------------------------
# /metrics answers a bearer METRICS_TOKEN, or scrapers from these networks (e.g. 10.0.0.0/8);
# neither set: nobody. A worker serves its own on WORKER_METRICS_PORT (0: none).
METRICS_TOKEN = env("METRICS_TOKEN", default="")
METRICS_ALLOWED_NETWORKS = env.list("METRICS_ALLOWED_NETWORKS", default=[])
WORKER_METRICS_HOST = env("WORKER_METRICS_HOST", default="127.0.0.1")
WORKER_METRICS_PORT = env.int("WORKER_METRICS_PORT", default=0)
HEALTHZ_TIMEOUT_SECONDS = env.float("HEALTHZ_TIMEOUT_SECONDS", default=2.0)

# --- Integration API and webhooks (chatbot/api, chatbot/integrations) -------------------------
# The cache counts API rate limits: shared through Redis when there is one.
CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}
    if REDIS_URL
    else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
}
REST_FRAMEWORK = {
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    # No session or password login over the API (the schema and docs views included): only keys.
    "DEFAULT_AUTHENTICATION_CLASSES": ["chatbot.api.authentication.ApiKeyAuthentication"],
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Parley integration API",
    "DESCRIPTION": "Conversations, knowledge base, metrics and webhooks of one store, per API key.",
    "VERSION": "1.0.0",
    "SCHEMA_PATH_PREFIX": "/api/v1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}
API_RATE_LIMIT = env("API_RATE_LIMIT", default="600/min")  # per key, unless the key sets its own
API_REPLY_TIMEOUT_MAX = env.int("API_REPLY_TIMEOUT_MAX", default=120)
# Webhooks and order look-ups never connect to loopback, private or link-local addresses unless
# this is set (a store's systems on the same private network as Parley; the test suite).
INTEGRATIONS_ALLOW_PRIVATE_NETWORKS = env.bool("INTEGRATIONS_ALLOW_PRIVATE_NETWORKS", default=False)
# A shopper identity the store's back end vouches for (a signed customer id, or a JWT's lifetime)
# is good for this long (chatbot/integrations/identity.py); a JWT must name this `aud` if it is set.
IDENTITY_MAX_AGE_SECONDS = env.int("IDENTITY_MAX_AGE_SECONDS", default=24 * 3600)
IDENTITY_TOKEN_AUDIENCE = env("IDENTITY_TOKEN_AUDIENCE", default="")
WEBHOOK_TIMEOUT_SECONDS = env.float("WEBHOOK_TIMEOUT_SECONDS", default=5.0)
WEBHOOK_MAX_ATTEMPTS = env.int("WEBHOOK_MAX_ATTEMPTS", default=8)
WEBHOOK_BACKOFF_SECONDS = env.float("WEBHOOK_BACKOFF_SECONDS", default=10.0)  # doubles per attempt
WEBHOOK_BACKOFF_MAX_SECONDS = env.float("WEBHOOK_BACKOFF_MAX_SECONDS", default=300.0)
# OpenAI-compatible /v1/chat/completions on the same workers (chatbot/api/completions.py).
COMPLETIONS_MAX_TOKENS = env.int("COMPLETIONS_MAX_TOKENS", default=512)
COMPLETIONS_TIMEOUT_SECONDS = env.float("COMPLETIONS_TIMEOUT_SECONDS", default=300.0)
