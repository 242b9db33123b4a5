"""tg-relay settings: one file, read from the environment.

The embedded default needs no outside service: SQLite and a SQLite-backed
queue in DATA_DIR. DATABASE_URL and REDIS_URL switch to PostgreSQL and Redis.
"""

import ipaddress
import os
import secrets
from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from config.env import envbool, envint, envlist, wait_slots, web_threads

BASE_DIR = Path(__file__).resolve().parent.parent
DATA_DIR = Path(os.environ.get("DATA_DIR", BASE_DIR / "var")).resolve()
DATA_DIR.mkdir(parents=True, exist_ok=True)

# Prometheus metrics are counted by several processes (gunicorn workers,
# the delivery worker) into files in this directory, and merged when
# /metrics is scraped. prometheus_client chooses that mode when it is first
# imported, from the environment, so it is set here, before any app loads.
PROMETHEUS_MULTIPROC_DIR = Path(os.environ.get("PROMETHEUS_MULTIPROC_DIR", DATA_DIR / "metrics")).resolve()
PROMETHEUS_MULTIPROC_DIR.mkdir(parents=True, exist_ok=True)
os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(PROMETHEUS_MULTIPROC_DIR)


def _secret_key() -> str:
    # A fresh install gets a random key kept beside the database, so no
    # secret ever has to live in the repository.
    if key := os.environ.get("SECRET_KEY"):
        return key
    path = DATA_DIR / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(50))
        path.chmod(0o600)
    return path.read_text().strip()


SECRET_KEY = _secret_key()
DEBUG = envbool("DEBUG", "0")
ALLOWED_HOSTS = envlist("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]")
CSRF_TRUSTED_ORIGINS = envlist("CSRF_TRUSTED_ORIGINS", "")
# Where people reach the service, for links made outside a request (the bot's
# replies); `make run` sets it to the address it serves.
PUBLIC_URL = os.environ.get("PUBLIC_URL", "http://127.0.0.1:8000").strip().rstrip("/")
if not PUBLIC_URL.startswith(("http://", "https://")):
    raise ImproperlyConfigured(f"PUBLIC_URL must start with http:// or https://, not {PUBLIC_URL!r}")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "knox",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "huey.contrib.djhuey",
    "accounts",
    "relaybot.apps.RelaybotConfig",
    "publish",
    "relay",
    "events",
    "ops",
    "cabinet",
]

MIDDLEWARE = [
    # First: everything after it sees the client's address and scheme, as a trusted proxy gives them.
    "ops.proxy.TrustedProxyMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # Before the rest: a sign-up or login refused for a busy hasher costs nothing more.
    "accounts.middleware.HashingGateMiddleware",
    "config.middleware.RequestBodyLimitMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # After WhiteNoise, which answers HEAD for static files itself.
    "config.middleware.HeadAsGetMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    # After sessions (it reads the language the switcher stored), before
    # CommonMiddleware; the cabinet's pages only, the API keeps its language.
    "cabinet.middleware.CabinetLocaleMiddleware",
    # Inside the language: a bare 405 or 429 to a person becomes a translated page.
    "cabinet.errors.ErrorPageMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # The reader's time zone on the cabinet's pages, once the account is known; the API stays in UTC.
    "cabinet.middleware.CabinetTimeZoneMiddleware",
    "accounts.middleware.HashingBusyMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

# The largest request body: the longest message (32,768 characters) fits in
# any JSON encoding, even as \uXXXX escapes of emoji (12 bytes a character).
DATA_UPLOAD_MAX_MEMORY_SIZE = envint("MAX_REQUEST_BYTES", 512 * 1024)

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
AUTH_USER_MODEL = "accounts.User"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "config" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "cabinet.context_processors.demo",
            ],
        },
    },
]

DATABASE_URL = os.environ.get("DATABASE_URL", "")
if DATABASE_URL:
    DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=60)}
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": DATA_DIR / "db.sqlite3",
            # Kept open between requests, as for PostgreSQL: a new SQLite
            # connection costs Django's set-up and a cold page cache each time.
            "CONN_MAX_AGE": 60,
            "OPTIONS": {
                # The web server, the worker and the bot write to one file:
                # WAL lets readers run beside a writer, IMMEDIATE takes the
                # write lock up front instead of failing mid-transaction.
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
                "transaction_mode": "IMMEDIATE",
                "timeout": 20,
            },
        }
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = os.environ.get("REDIS_URL", "")
if REDIS_URL:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}
    HUEY = {
        "huey_class": "huey.RedisHuey",
        "name": os.environ.get("QUEUE_NAME", "tgrelay"),
        "url": REDIS_URL,
        "immediate": False,
        "consumer": {"workers": envint("WORKER_THREADS", 4), "worker_type": "thread"},
    }
else:
    # A table in the database, so every web process counts failed logins and
    # throttled requests together (process memory would give each its own
    # count); `migrate` creates it (ops/apps.py).
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.db.DatabaseCache", "LOCATION": "tgrelay_cache"}}
    HUEY = {
        "huey_class": "config.queue.SqliteQueue",
        "name": "tgrelay",
        "filename": str(DATA_DIR / "queue.sqlite3"),
        "immediate": False,
        # The SQLite queue is polled: poll often so a message waits
        # milliseconds, not huey's default of up to ten seconds, when idle.
        "consumer": {
            "workers": envint("WORKER_THREADS", 4),
            "worker_type": "thread",
            "initial_delay": 0.05,
            "backoff": 1.1,
            "max_delay": 0.25,
        },
    }

# Each process's own memory, for what needs no sharing to be correct: the
# verified HTTP Basic credentials, when a token's last use was noted, the bot's username.
CACHES["local"] = {
    "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
    "LOCATION": "local",
    "OPTIONS": {"MAX_ENTRIES": 10_000},
}

# Django's PBKDF2, at most PASSWORD_HASHING_SLOTS hashes at once on a machine
# (accounts/hashers.py); beyond them a request answers 503 with Retry-After at
# once. 0 takes the bound away. The default leaves half the cores to the rest.
PASSWORD_HASHERS = [
    "accounts.hashers.BoundedPBKDF2PasswordHasher",
    "accounts.hashers.BoundedPBKDF2SHA1PasswordHasher",
]
PASSWORD_HASHING_SLOTS = envint("PASSWORD_HASHING_SLOTS", max((os.cpu_count() or 1) // 2, 1))

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
# The cabinet speaks both; the browser's language chooses, the switcher overrides.
LANGUAGES = [("en", "English"), ("ru", "Русский")]
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# The cabinet: server-rendered pages for people, under /cabinet/.
LOGIN_URL = "cabinet:login"
# A page for people, JSON for the API (cabinet/errors.py), as the error handlers in config/urls.py.
CSRF_FAILURE_VIEW = "cabinet.errors.csrf_failure"
# Failed verification codes per account in a window; beyond them the cabinet
# answers 429. Cabinet logins count with the API's (LOGIN_FAILURES_*).
CABINET_VERIFY_FAILURES = 10
CABINET_FAILURE_WINDOW_SECONDS = 300
# "Forgot password": reset links asked for per username and per client address
# in that window, and how long a link sent to the linked chat works.
PASSWORD_RESETS_PER_USERNAME = envint("PASSWORD_RESETS_PER_USERNAME", 3)
PASSWORD_RESETS_PER_ADDRESS = envint("PASSWORD_RESETS_PER_ADDRESS", 10)
PASSWORD_RESET_TTL = timedelta(minutes=envint("PASSWORD_RESET_TTL_MINUTES", 30))
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = True
# Cookies marked Secure are sent over HTTPS only, so they are only marked when
# the service is reached over HTTPS (HTTPS=1, e.g. behind a TLS proxy): `make run`
# serves plain http://127.0.0.1:8000/, where a Secure cookie would never come back.
HTTPS = envbool("HTTPS", "0")
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = HTTPS and not DEBUG
# Browsers told once over https keep to https for this long (sent on https requests only).
SECURE_HSTS_SECONDS = envint("HSTS_SECONDS", 365 * 86400) if HTTPS else 0
# Reverse proxies (addresses or networks, e.g. "127.0.0.1,::1" for nginx on the same
# machine) whose X-Forwarded-For names the client and whose X-Forwarded-Proto says
# whether it came over https; from anyone else both are ignored (ops/proxy.py).
TRUSTED_PROXIES = [ipaddress.ip_network(item, strict=False) for item in envlist("TRUSTED_PROXIES", "")]
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if TRUSTED_PROXIES else None

STATIC_URL = "static/"
STATIC_ROOT = DATA_DIR / "static"
STATIC_ROOT.mkdir(exist_ok=True)
# Swagger UI and ReDoc assets come from the installed packages, so the docs
# work without a CDN and without a collectstatic step.
WHITENOISE_USE_FINDERS = True

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "accounts.authentication.BearerTokenAuthentication",
        "accounts.authentication.CachedBasicAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": [
        "rest_framework.permissions.IsAuthenticated",
        "accounts.permissions.TokenScope",
    ],
    "DEFAULT_PARSER_CLASSES": ["config.parsers.JSONParser", "rest_framework.parsers.FormParser"],
    "DEFAULT_SCHEMA_CLASS": "config.schema.AutoSchema",
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    # Throttles key on REMOTE_ADDR, which ops/proxy.py sets from trusted proxies only;
    # left unset, DRF would believe any client's X-Forwarded-For.
    "NUM_PROXIES": 0,
    "DEFAULT_THROTTLE_RATES": {
        "login": os.environ.get("LOGIN_RATE", "10/min"),
        "verify": os.environ.get("VERIFY_RATE", "10/min"),
    },
}

_token_ttl_days = os.environ.get("API_TOKEN_TTL_DAYS", "")
REST_KNOX = {
    "AUTH_HEADER_PREFIX": "Bearer",
    "TOKEN_TTL": timedelta(days=int(_token_ttl_days)) if _token_ttl_days else None,
}
# How long a verified HTTP Basic credential is trusted without a PBKDF2 check.
BASIC_AUTH_CACHE_SECONDS = envint("BASIC_AUTH_CACHE_SECONDS", 300)
# Failed logins (token endpoint, /users/login, HTTP Basic, cabinet, admin) allowed per
# username from one client address, and per address, within the window; beyond them
# logins answer 429 without checking the password.
LOGIN_FAILURES_PER_USERNAME_AND_ADDRESS = envint("LOGIN_FAILURES_PER_USERNAME_AND_ADDRESS", 5)
LOGIN_FAILURES_PER_ADDRESS = envint("LOGIN_FAILURES_PER_ADDRESS", 20)
# Across all addresses, against guessing from many; not applied from an address the
# account logged in from lately, so it cannot lock the owner out (accounts/throttling.py).
LOGIN_FAILURES_PER_USERNAME = envint("LOGIN_FAILURES_PER_USERNAME", 50)
LOGIN_FAILURE_WINDOW_SECONDS = envint("LOGIN_FAILURE_WINDOW_SECONDS", 300)
# Accounts made per client address within the window, on every way to sign up.
SIGNUPS_PER_ADDRESS = envint("SIGNUPS_PER_ADDRESS", 10)
SIGNUP_WINDOW_SECONDS = envint("SIGNUP_WINDOW_SECONDS", 3600)

SPECTACULAR_SETTINGS = {
    # Two models have a "kind": each its own enum in the schema.
    "ENUM_NAME_OVERRIDES": {
        "DestinationKindEnum": "relay.models.Destination.Kind",
        "IntegrationKindEnum": "publish.models.Integration.Kind",
        "MessageStatusEnum": "relay.models.Message.Status",
    },
    "TITLE": "tg-relay API",
    "DESCRIPTION": (
        "Send a message to the API and the Telegram bot delivers it to your own chat. "
        "Authenticate with `Authorization: Bearer <token>` (from `POST /api/v1/auth/token/`) "
        "or HTTP Basic."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    # The sidecar's bundle, served by config/docs.py without its one CDN address.
    "REDOC_DIST": "/docs/redoc",
    "COMPONENT_SPLIT_REQUEST": True,
    # PATCH /bot/verify needs its field like a POST; a "patched" body would call it optional.
    "COMPONENT_SPLIT_PATCH": False,
    "POSTPROCESSING_HOOKS": ["drf_spectacular.hooks.postprocess_schema_enums", "config.schema.add_links"],
}

# Telegram
TELEGRAM_BOT_TOKEN = os.environ.get("TELEGRAM_BOT_TOKEN", "")
TELEGRAM_API_URL = os.environ.get("TELEGRAM_API_URL", "https://api.telegram.org").rstrip("/")
TELEGRAM_BOT_USERNAME = os.environ.get("TELEGRAM_BOT_USERNAME", "")
TELEGRAM_WEBHOOK_SECRET = os.environ.get("TELEGRAM_WEBHOOK_SECRET", "")
TELEGRAM_TIMEOUT_SECONDS = float(os.environ.get("TELEGRAM_TIMEOUT_SECONDS", "10"))
# Set by `make run` when it starts the simulated Telegram: the cabinet then shows
# a simulated chat with the bot, driven through the simulator's control API.
TELEGRAM_DEMO = envbool("TELEGRAM_DEMO", "0")
# The poller's longest pause between tries while the Bot API does not answer, and how
# many times it tries an update whose handling failed before it logs and skips it.
BOT_BACKOFF_MAX_SECONDS = float(os.environ.get("BOT_BACKOFF_MAX_SECONDS", "60"))
BOT_UPDATE_MAX_ATTEMPTS = envint("BOT_UPDATE_MAX_ATTEMPTS", 5)
LINK_CODE_TTL = timedelta(minutes=envint("LINK_CODE_TTL_MINUTES", 15))
VERIFICATION_CODE_TTL = timedelta(minutes=envint("VERIFICATION_CODE_TTL_MINUTES", 10))

# Delivery
DELIVERY_MAX_ATTEMPTS = envint("DELIVERY_MAX_ATTEMPTS", 12)
DELIVERY_BACKOFF_BASE_SECONDS = float(os.environ.get("DELIVERY_BACKOFF_BASE_SECONDS", "2"))
DELIVERY_BACKOFF_MAX_SECONDS = float(os.environ.get("DELIVERY_BACKOFF_MAX_SECONDS", "600"))
DELIVERY_LEASE_SECONDS = envint("DELIVERY_LEASE_SECONDS", 60)
# Telegram allows about 30 messages a second per bot, 1 a second per private
# chat and 20 a minute per group (channels are paced as groups; a group's
# topics share its pace).
DELIVERY_GLOBAL_RATE = envint("DELIVERY_GLOBAL_RATE", 25)
DELIVERY_CHAT_INTERVAL_SECONDS = float(os.environ.get("DELIVERY_CHAT_INTERVAL_SECONDS", "1"))
DELIVERY_GROUP_INTERVAL_SECONDS = float(os.environ.get("DELIVERY_GROUP_INTERVAL_SECONDS", "3"))
# Messages one account may submit per minute; the API answers 429 beyond it.
MESSAGES_PER_MINUTE = envint("MESSAGES_PER_MINUTE", 60)
IDEMPOTENCY_KEY_HOURS = 24
MESSAGE_MAX_LENGTH = 32768
# Requests a web process runs at once (config/turns.py), and requests it
# lets wait for an answer (`?wait=`) besides them, each on a thread of its
# own (gunicorn.conf.py): a waiting request takes no turn from the others.
# None by default: threads cost every request CPU (docs/benchmarks.md).
WEB_THREADS = web_threads()
WAIT_SLOTS = wait_slots()
# The largest file a message may carry: Telegram's cloud Bot API takes 50 MB
# (a local Bot API server more); stored in the database until sent.
ATTACHMENT_MAX_BYTES = envint("ATTACHMENT_MAX_BYTES", 20 * 1024 * 1024)
# Sent messages older than this are deleted daily; 0 keeps them forever.
MESSAGE_RETENTION_DAYS = envint("MESSAGE_RETENTION_DAYS", 0)

# Webhooks out are refused for endpoints on private, loopback, link-local and other non-public
# addresses, when made and at every send (events/addresses.py); 1 allows them, for receivers on your own network.
WEBHOOK_ALLOW_PRIVATE_ADDRESSES = envbool("WEBHOOK_ALLOW_PRIVATE_ADDRESSES", "0")

# Operations: /metrics asks for `Authorization: Bearer <METRICS_TOKEN>` when set.
METRICS_TOKEN = os.environ.get("METRICS_TOKEN", "")
# How long /readyz trusts its last answer from the Bot API.
READYZ_TELEGRAM_CACHE_SECONDS = envint("READYZ_TELEGRAM_CACHE_SECONDS", 30)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"redact_bot_token": {"()": "config.logging.RedactBotToken"}},
    "formatters": {"json": {"()": "config.logging.JsonFormatter"}},
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "json", "filters": ["redact_bot_token"]},
    },
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {
        # httpx logs every request URL at INFO, and every Bot API URL holds
        # the bot token.
        "httpx": {"level": "WARNING"},
        "httpcore": {"level": "WARNING"},
        # Configured here so run_huey adds no second handler of its own.
        "huey": {"handlers": ["console"], "level": "INFO", "propagate": False},
    },
}
