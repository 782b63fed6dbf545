"""Settings for db_django, driven by environment variables.

Two runtime modes share this module (see README "Configuration"):
- embedded default: SQLite and a filesystem broker under var/, DEBUG on, open API;
- production: DJANGO_DEBUG=0, DATABASE_URL=mysql://..., CELERY_BROKER_URL=redis://...
"""

import socket
from datetime import timedelta
from pathlib import Path

from kombu import Queue
from kombu.common import Broadcast

from .env import (
    ConfigError,
    cache_from_url,
    database_from_url,
    envbool,
    envfloat,
    envint,
    envlist,
    envrate,
    envrequired,
    envstr,
    replica_from_url,
)

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(envstr("VAR_DIR", str(BASE_DIR / "var")))
VAR_DIR.mkdir(parents=True, exist_ok=True)

DEBUG = envbool("DJANGO_DEBUG", True)
if DEBUG:
    # The fallback key only ever exists in the embedded (DEBUG) mode.
    SECRET_KEY = envstr("DJANGO_SECRET_KEY", "insecure-embedded-mode-key-do-not-use-in-production")
    ALLOWED_HOSTS = envlist("DJANGO_ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]", "testserver"])
else:
    # Production: no built-in defaults for what must be secret or site-specific.
    SECRET_KEY = envrequired("DJANGO_SECRET_KEY", 'e.g. python -c "import secrets; print(secrets.token_urlsafe(50))"')
    envrequired("DJANGO_ALLOWED_HOSTS", "comma-separated host names this site answers to, e.g. monitor.example.com")
    ALLOWED_HOSTS = envlist("DJANGO_ALLOWED_HOSTS")
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SESSION_COOKIE_HTTPONLY = True
    SECURE_SSL_REDIRECT = envbool("DJANGO_SECURE_SSL_REDIRECT", True)
    # Load balancers check health over plain HTTP, and a redirect is not an answer.
    SECURE_REDIRECT_EXEMPT = [r"^monitor/health/$"]
    SECURE_HSTS_SECONDS = envint("DJANGO_HSTS_SECONDS", 31536000, minimum=0)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = envbool("DJANGO_HSTS_INCLUDE_SUBDOMAINS", True)
    SECURE_HSTS_PRELOAD = envbool("DJANGO_HSTS_PRELOAD", False)
    if envbool("DJANGO_BEHIND_TLS_PROXY", False):
        # The proxy terminates TLS and says so in this header (and strips it from clients).
        SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    # An operator who turns one of these off on purpose has made the decision
    # `check --deploy` warns about; the warning would only hide new ones.
    SILENCED_SYSTEM_CHECKS = [
        check
        for check, chosen in (
            ("security.W008", SECURE_SSL_REDIRECT),
            ("security.W021", SECURE_HSTS_PRELOAD),
        )
        if not chosen
    ]
CSRF_TRUSTED_ORIGINS = envlist("DJANGO_CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "corsheaders",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_extensions",
    "axes",
    "monitor.apps.MonitorConfig",
    "monitor.dashboard.apps.DashboardConfig",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Counts every answer and its time for /monitor/metrics (outermost but one: it times all the rest).
    "monitor.exposition.middleware.RequestMetrics",
    # Outermost but one, so every answer below gets its CSP and API cache rule.
    "monitor.security_headers.SecurityHeaders",
    # Before CommonMiddleware so CORS preflight and headers apply to every answer.
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "corsheaders.middleware.CorsMiddleware",
    # Reads each body whole (or refuses it) before sessions, CSRF or a view parse it,
    # and before a database slot is taken: a slow body never holds one.
    "monitor.api.bodies.RequestBodyGuard",
    # Before anything that may touch the database (sessions, auth); after CORS so its 503s carry CORS headers.
    "monitor.api.middleware.DatabaseSlots",
    "monitor.api.middleware.StatementTimeLimit",
    "django.contrib.sessions.middleware.SessionMiddleware",
    # After sessions (a chosen language may live there), before CommonMiddleware: Accept-Language, or the
    # language cookie the dashboard's switch sets, picks English or Chinese for every page and API message.
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as django-axes requires: turns a locked-out login into its answer.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "db_django.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
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

WSGI_APPLICATION = "db_django.wsgi.application"

DATABASES = {"default": database_from_url(envstr("DATABASE_URL"), VAR_DIR / "db.sqlite3")}
# A MySQL replica of the primary for reads that may lag a few seconds (README "Past one machine"):
# monitor/storage/router.py sends them there while it keeps up, everything else to the primary.
DATABASE_REPLICA_URL = envstr("DATABASE_REPLICA_URL")
if DATABASE_REPLICA_URL:
    DATABASES["replica"] = replica_from_url(DATABASE_REPLICA_URL, DATABASES["default"])
DATABASE_ROUTERS = ["monitor.storage.router.ReplicaRouter"]
# Seconds behind the primary (Seconds_Behind_Master) beyond which the replica's reads go to the primary.
DATABASE_REPLICA_MAX_LAG = envfloat("DATABASE_REPLICA_MAX_LAG", 10.0)
# Each process asks the replica for its state at most this often (seconds); reads in between use the last answer.
DATABASE_REPLICA_CHECK_INTERVAL = envfloat("DATABASE_REPLICA_CHECK_INTERVAL", 2.0)
if DATABASE_REPLICA_MAX_LAG < 0 or DATABASE_REPLICA_CHECK_INTERVAL <= 0:
    raise ConfigError(
        "DATABASE_REPLICA_MAX_LAG must not be negative and DATABASE_REPLICA_CHECK_INTERVAL must be positive"
    )
# Seconds a SELECT of an API request may run on MySQL/MariaDB before the server stops it (0: no limit);
# below the connection's read timeout, so the server's clear error arrives before the client gives up.
DATABASE_STATEMENT_TIMEOUT = envfloat("DATABASE_STATEMENT_TIMEOUT", 3.0)
if DATABASE_STATEMENT_TIMEOUT < 0:
    raise ConfigError(f"DATABASE_STATEMENT_TIMEOUT={DATABASE_STATEMENT_TIMEOUT:g} must not be negative")
for _alias, _variable in (("default", "DATABASE_URL"), ("replica", "DATABASE_REPLICA_URL")):
    _read_timeout = DATABASES.get(_alias, {}).get("OPTIONS", {}).get("read_timeout")
    if _read_timeout and DATABASE_STATEMENT_TIMEOUT >= _read_timeout:
        raise ConfigError(
            f"DATABASE_STATEMENT_TIMEOUT={DATABASE_STATEMENT_TIMEOUT:g} must be below the read_timeout "
            f"of {_variable} ({_read_timeout} s)"
        )
# Requests per web process that may be in the application (waiting on the database) at once;
# keep it below gunicorn's --threads so health and quick 503s always find a free thread. 0: no limit.
DATABASE_REQUEST_SLOTS = envint("DATABASE_REQUEST_SLOTS", 0 if DEBUG else 6, minimum=0)

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# The dashboard, the API's messages and the admin in English and Chinese (monitor/locale; Django and DRF
# ship their own zh_Hans). A browser asking for zh-CN, zh-SG or zh-Hans gets Chinese.
LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("zh-hans", "简体中文")]
LOCALE_PATHS = [BASE_DIR / "monitor" / "locale"]
# Times the server writes into pages (the dashboard's "last seen"); charts use the browser's zone.
TIME_ZONE = envstr("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
STATIC_ROOT.mkdir(exist_ok=True)  # WhiteNoise expects it, even before collectstatic
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Bounds a single request body (2.5 MB: room for a full bulk batch of samples).
DATA_UPLOAD_MAX_MEMORY_SIZE = envint("DATA_UPLOAD_MAX_MEMORY_SIZE", 5 * 1024 * 1024 // 2, minimum=1024)
# Rows per page of /monitor/resources/ when the client does not say (?page_size=).
API_PAGE_SIZE = envint("API_PAGE_SIZE", 100, minimum=1)
# Series one list or latest request may span; beyond it the API asks the client to filter (400).
API_MAX_SERIES = envint("API_MAX_SERIES", 50_000, minimum=1)
# Samples per bulk POST; beyond it the API answers 413.
BULK_MAX_ITEMS = envint("BULK_MAX_ITEMS", 5000, minimum=1)
# What a remote write or line protocol body may unpack to (snappy, gzip); 413 beyond.
INGEST_MAX_BYTES = envint("INGEST_MAX_BYTES", 10 * 1024 * 1024, minimum=1024)

# --- API access ------------------------------------------------------------------
# Production requires tokens (monitor/api/auth.py); the embedded mode keeps the notes'
# curl POST working unchanged.
API_REQUIRE_AUTH = envbool("API_REQUIRE_AUTH", not DEBUG)
# With auth required, let anonymous clients read (dashboards on a trusted network).
API_PUBLIC_READS = envbool("API_PUBLIC_READS", False)
# Writes per token (DRF rate: N/second|minute|hour|day); 429 + Retry-After beyond.
API_WRITE_RATE = envrate("API_WRITE_RATE", "600/minute")
# Failed token checks (unknown, revoked, malformed) per client address; 429 beyond.
# A valid token is never counted or refused by it.
API_AUTH_FAILURE_RATE = envrate("API_AUTH_FAILURE_RATE", "20/minute")
# The client address of throttles and login lockouts is REMOTE_ADDR, or behind the
# TLS proxy the last X-Forwarded-For entry (the one the proxy appended).
TRUST_X_FORWARDED_FOR = envbool("DJANGO_BEHIND_TLS_PROXY", False)

# --- Dashboard (monitor/dashboard) -------------------------------------------------
# With API_REQUIRE_AUTH the dashboard needs a login: staff users, and the active members of this
# group (empty: staff only). Members who are not staff sign in at /login/, staff at /admin/login/.
DASHBOARD_GROUP = envstr("DASHBOARD_GROUP", "")
# Series per batch request (POST /monitor/resources/series/batch/) and points in one answer.
BATCH_MAX_ITEMS = envint("BATCH_MAX_ITEMS", 200, minimum=1)
BATCH_MAX_POINTS = envint("BATCH_MAX_POINTS", 250_000, minimum=1)
# Where the fleet view's alert block comes from: a callable returning the firing alerts
# (monitor/dashboard/panels.py says what it returns); absent or empty, no block is shown.
DASHBOARD_ALERTS = envstr("DASHBOARD_ALERTS", "monitor.alerts.dashboard.active_alerts")

# --- Admin logins: lockout after repeated failures (django-axes) -------------------
# Counted per user and address together, in the database (not the cache, which may
# be down); a success forgets the failures. Unlock: `manage.py axes_reset_username
# NAME` (or axes_reset_ip, axes_reset), or delete the attempt in the admin.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",  # first: refuses a locked-out login before the password is checked
    "django.contrib.auth.backends.ModelBackend",
]
AXES_HANDLER = "axes.handlers.database.AxesDatabaseHandler"
AXES_FAILURE_LIMIT = envint("AXES_FAILURE_LIMIT", 5, minimum=1)
AXES_COOLOFF_TIME = timedelta(minutes=envint("AXES_COOLOFF_MINUTES", 15, minimum=1))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_CLIENT_IP_CALLABLE = "monitor.api.throttling.client_address"
AXES_LOCKOUT_CALLABLE = "monitor.api.auth.lockout_response"
AXES_VERBOSE = False  # no banner in every process and management command

REST_FRAMEWORK = {
    "DEFAULT_PARSER_CLASSES": [
        # Accepts NaN/Infinity tokens so the serializer can reject them by field name.
        "monitor.api.parsers.LenientJSONParser",
        # Form posts for the browsable API: its HTML forms post multipart, whose files
        # Django does not count against the upload limit; this parser refuses files
        # and bodies announced over the limit.
        "rest_framework.parsers.FormParser",
        "monitor.api.parsers.FieldsOnlyMultiPartParser",
    ],
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "monitor.api.auth.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["monitor.api.auth.ApiAccess"],
    "DEFAULT_THROTTLE_CLASSES": ["monitor.api.throttling.TokenWriteThrottle"],
    "DEFAULT_THROTTLE_RATES": {"write": API_WRITE_RATE},
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "monitor.api.errors.exception_handler",
    # JSON through orjson (monitor/api/renderers.py), then the browsable API.
    "DEFAULT_RENDERER_CLASSES": [
        "monitor.api.renderers.FastJSONRenderer",
        "rest_framework.renderers.BrowsableAPIRenderer",
    ],
}
if not DEBUG:
    # No browsable API in production: JSON only.
    REST_FRAMEWORK["DEFAULT_RENDERER_CLASSES"] = ["monitor.api.renderers.FastJSONRenderer"]

SPECTACULAR_SETTINGS = {
    "TITLE": "db_django monitor API",
    "DESCRIPTION": "Metric samples of servers and databases, application status and health.",
    "VERSION": "1.0.0",
    # Operations are tagged (and generated clients grouped) by the path after /monitor/
    # (resources, hosts, ...); the InfluxDB-compatible /api/v2/write is tagged `api`.
    "SCHEMA_PATH_PREFIX": r"/monitor",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["monitor.api.auth.ApiAccess"],
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_GENERATE_CHOICE_DESCRIPTION": False,  # the choices are their own names
    "ENUM_NAME_OVERRIDES": {
        "CheckStateEnum": "monitor.api.schemas.CHECK_STATES",
        "BrokerStateEnum": "monitor.api.schemas.BROKER_STATES",
        "HealthStatusEnum": "monitor.api.schemas.HEALTH_STATES",
        "HostSourceEnum": "monitor.api.serializers.HOST_SOURCES",
        "AlertStateEnum": "monitor.alerts.models.AlertState",
    },
    # Error components, servers, security inherited from the top (Postman), required bodies, live examples.
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "monitor.api.schemas.finish_schema",
    ],
}
# The base URL the schema's `servers` entry names (Postman's baseUrl, generated clients' default),
# e.g. https://monitor.example.com; empty: the origin the schema was requested from.
API_SERVER_URL = envstr("API_SERVER_URL", "")

# Browser frontends on other origins (e.g. http://localhost:5173) must be listed.
CORS_ALLOWED_ORIGINS = envlist("CORS_ALLOWED_ORIGINS")
CORS_URLS_REGEX = r"^/monitor/.*$"
# Headers a frontend's script may read besides the CORS-safelisted ones: when to retry after a 429.
CORS_EXPOSE_HEADERS = ["Retry-After"]

# Throttle counters; set CACHE_URL=redis://... so several web processes share them.
# Nothing else uses the cache (sessions and login lockouts are in the database), and
# the throttles count per process while it is down (monitor/api/throttling.py).
CACHES = {"default": cache_from_url(envstr("CACHE_URL"))}

# --- Celery -----------------------------------------------------------------
BROKER_DIR = VAR_DIR / "broker"
CELERY_BROKER_URL = envstr("CELERY_BROKER_URL", "filesystem://")
if CELERY_BROKER_URL.startswith("filesystem"):
    from .filesystem_broker import transport_options

    CELERY_BROKER_TRANSPORT_OPTIONS = transport_options(BROKER_DIR)
    CELERY_BROKER_TRANSPORT = "db_django.filesystem_broker:Transport"  # a worker stops promptly on SIGTERM
else:
    # Without socket timeouts a frozen Redis (accepts, never answers) blocks
    # every caller for as long as the kernel keeps the connection open.
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "socket_timeout": envfloat("CELERY_BROKER_SOCKET_TIMEOUT", 5.0),
        "socket_connect_timeout": envfloat("CELERY_BROKER_CONNECT_TIMEOUT", 3.0),
        "socket_keepalive": True,
        "health_check_interval": 25,
        # Broadcast (fanout) messages stay within this Redis database.
        "fanout_prefix": True,
    }
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_CONNECTION_TIMEOUT = envfloat("CELERY_BROKER_CONNECT_TIMEOUT", 3.0)
CELERY_RESULT_BACKEND = envstr("CELERY_RESULT_BACKEND", "") or None
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = TIME_ZONE
CELERY_WORKER_SEND_TASK_EVENTS = False
# A worker that dies mid-collection gets its task redelivered, not lost.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
# More than one: a worker whose only slot is taken stops reading the broadcast
# queue, and kombu's Redis poller then wakes ~1,000 times a second for nothing.
# Collection tasks are short and idempotent, so prefetching a few is harmless.
CELERY_WORKER_PREFETCH_MULTIPLIER = envint("CELERY_WORKER_PREFETCH_MULTIPLIER", 4, minimum=1)
# Host collection sent as a task (a "collect now", or every cycle with
# MONITOR_HOST_TIMER=0) goes to a broadcast queue so every worker samples its
# own machine; everything else goes to the ordinary queue, taken once.
HOST_METRICS_QUEUE = "monitor.host_metrics"
CELERY_TASK_DEFAULT_QUEUE = "celery"
# On Redis every worker gets its own copy (pub/sub); the per-process queue name
# (unique) keeps their bindings apart, and routes name the queue object itself
# because of that suffix. The filesystem broker is local to one machine, where
# one sample per cycle is right, and it would keep writing a copy for every
# dead worker's queue: there all workers share one queue, named, since kombu
# names a Broadcast queue afresh in every process unless told (`bcast.<uuid>`).
# On Redis the host broadcast is consumed without acknowledgement (no_ack): a
# broadcast is never handed out again anyway (a restored one would go to every
# worker; db_django/kombu_patches.py drops it), so recording each one as
# unacknowledged in Redis only cost a round trip per cycle (bench/COLLECTOR_COST.md).
if CELERY_BROKER_URL.startswith("filesystem"):
    HOST_BROADCAST = Broadcast(HOST_METRICS_QUEUE, queue=HOST_METRICS_QUEUE)
else:
    HOST_BROADCAST = Broadcast(HOST_METRICS_QUEUE, unique=True, no_ack=True)
CELERY_TASK_QUEUES = (Queue("celery"), HOST_BROADCAST)
# Celery never declares a Broadcast queue when publishing, and a publisher that
# has not declared the exchange sends to it as if it were direct; declaring the
# fanout exchange itself makes every sender (beat, a shell) broadcast.
CELERY_TASK_ROUTES = {
    "monitor.collection.tasks.collect_host_metrics": {"queue": HOST_BROADCAST, "declare": [HOST_BROADCAST.exchange]},
}
# Celery's Django fixup closes every database connection before and after each
# task unless told to reuse them: a new MySQL connection per collection cycle
# (0.75 ms of the worker's CPU, and a connect on the server, every second at
# METRICS_INTERVAL=1). Reused instead; each task starts as a Django request does,
# dropping a connection that is broken or older than CONN_MAX_AGE
# (monitor/collection/tasks.py, task_prerun).
CELERY_DB_REUSE_MAX = 2**62
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
CELERY_BEAT_SCHEDULER = "monitor.collection.beat:Scheduler"  # celery's own, minus a busy wait (see the module)

# --- Monitoring ---------------------------------------------------------------
METRICS_INTERVAL = envint("METRICS_INTERVAL", 10, minimum=1)
# Each worker samples its own machine on its own timer (monitor/collection/host_timer.py);
# 0: beat broadcasts a host cycle to every worker instead (one message per cycle, more CPU).
MONITOR_HOST_TIMER = envbool("MONITOR_HOST_TIMER", True)
# MySQL, Redis and task-queue status: every cycle by default; a coarser value
# (e.g. 10 with METRICS_INTERVAL=1) halves the worker's cost at 1 s cycles.
SERVER_METRICS_INTERVAL = envint("SERVER_METRICS_INTERVAL", METRICS_INTERVAL, minimum=1)
# A host that has not reported for this many seconds is flagged stale.
HOST_STALE_AFTER = envint("HOST_STALE_AFTER", 3 * METRICS_INTERVAL, minimum=1)
# Rows are tagged with this name; override it to run several workers on one box.
MONITOR_HOSTNAME = envstr("MONITOR_HOSTNAME") or socket.gethostname()
# Servers whose own status is collected each cycle: by default the app's own
# database (and its replica) when it is MySQL, and the broker when it is Redis.
_database_url = envstr("DATABASE_URL")
MONITOR_MYSQL_URLS = envlist(
    "MONITOR_MYSQL_URLS", [_database_url, DATABASE_REPLICA_URL] if _database_url.startswith("mysql") else []
)
MONITOR_MYSQL_URLS = [url for url in MONITOR_MYSQL_URLS if url]
MONITOR_REDIS_URLS = envlist("MONITOR_REDIS_URLS", [CELERY_BROKER_URL] if CELERY_BROKER_URL.startswith("redis") else [])
# Timeout of each collector's connection to a monitored server.
MONITOR_COLLECT_TIMEOUT = envfloat("MONITOR_COLLECT_TIMEOUT", 2.0)
# Prometheus exporters the workers scrape (node_exporter, mysqld_exporter): comma-separated URLs.
SCRAPE_TARGETS = envlist("SCRAPE_TARGETS")
SCRAPE_INTERVAL = envint("SCRAPE_INTERVAL", METRICS_INTERVAL, minimum=1)
# Seconds per target to connect and read its answer.
SCRAPE_TIMEOUT = envfloat("SCRAPE_TIMEOUT", MONITOR_COLLECT_TIMEOUT)
# Days each tier keeps (monitor/storage/retention.py): raw samples, per-minute and
# per-hour rollups. RETENTION_DAYS, the older name of the raw setting, still counts.
RETENTION_RAW_DAYS = envint("RETENTION_RAW_DAYS", envint("RETENTION_DAYS", 7, minimum=1), minimum=1)
RETENTION_MINUTE_DAYS = envint("RETENTION_MINUTE_DAYS", 90, minimum=1)
RETENTION_HOUR_DAYS = envint("RETENTION_HOUR_DAYS", 730, minimum=1)
RETENTION_BATCH_SIZE = envint("RETENTION_BATCH_SIZE", 5000, minimum=1)
# Minute and hour rollups (monitor/storage/folding.py): on MySQL a task folds each minute of
# samples this many seconds after it ends (agents a little late still land in it), every
# ROLLUP_FOLD_INTERVAL seconds. ROLLUP_FOLD_INLINE=1 keeps every write folding its own samples.
ROLLUP_FOLD_INLINE = envbool("ROLLUP_FOLD_INLINE", False)
ROLLUP_FOLD_DELAY = envint("ROLLUP_FOLD_DELAY", 60, minimum=0)
ROLLUP_FOLD_INTERVAL = envint("ROLLUP_FOLD_INTERVAL", 60, minimum=1)
# Alert rules (monitor/alerts): seconds between evaluations (beat), and how many
# firing critical alerts /monitor/health/ lists in its detail.
ALERTS_EVALUATION_INTERVAL = envint("ALERTS_EVALUATION_INTERVAL", 15, minimum=1)
ALERTS_HEALTH_LIST = envint("ALERTS_HEALTH_LIST", 5, minimum=0)
# Time budget of /monitor/application/ for talking to the broker and workers.
STATUS_TIMEOUT = envfloat("STATUS_TIMEOUT", 1.0)
# /monitor/application/ answers from what the workers told the last server-status
# cycle while that is at most this old (seconds), and asks them itself beyond
# (within STATUS_TIMEOUT); 0 asks every time.
STATUS_REPORT_MAX_AGE = envfloat("STATUS_REPORT_MAX_AGE", 2.0 * SERVER_METRICS_INTERVAL)

# Redis hands a message taken by a worker that then died (acks_late: not yet
# acknowledged) to another worker once it has been out this long. kombu's
# default, an hour, outlived every cycle's expiry (three intervals), so a cycle
# whose whole worker was killed was lost. Half the expiry, swept every sixth:
# such a cycle runs on another (or the restarted) worker within two thirds of
# its expiry. Still longer than a cycle runs (MONITOR_COLLECT_TIMEOUT bounds
# each server); a slower one is run twice at worst and stored once
# (CollectionCycle). The hourly prune acknowledges on start instead
# (monitor/collection/tasks.py): a prune cut short is finished by the next.
CELERY_BROKER_VISIBILITY_TIMEOUT = envfloat("CELERY_BROKER_VISIBILITY_TIMEOUT", 1.5 * SERVER_METRICS_INTERVAL)
if not 0 < CELERY_BROKER_VISIBILITY_TIMEOUT < float("inf"):  # at 0 every message taken would be handed out again
    raise ConfigError(f"CELERY_BROKER_VISIBILITY_TIMEOUT={CELERY_BROKER_VISIBILITY_TIMEOUT} must be a positive number")
if not CELERY_BROKER_URL.startswith("filesystem"):
    CELERY_BROKER_TRANSPORT_OPTIONS |= {
        "visibility_timeout": CELERY_BROKER_VISIBILITY_TIMEOUT,
        # kombu sweeps every interval x throttle seconds (10 x 10 by default) and once at worker start.
        "unacked_restore_interval": CELERY_BROKER_VISIBILITY_TIMEOUT / 3,
        "unacked_restore_throttle": 1,
        # The sweep's lock outlives a worker killed mid-sweep by this long (kombu: 300 s).
        "unacked_mutex_expire": 10,
    }

# --- Notifications (monitor/alerts/grouping.py, outbox.py; README "Notifications") ---
# Seconds between planning runs (and scheduled sends) of alert notifications.
ALERTS_NOTIFY_INTERVAL = envint("ALERTS_NOTIFY_INTERVAL", 10, minimum=1)
# Base URL of this monitor as people reach it: the webhook's externalURL and the alerts' links ("" = none).
ALERTS_EXTERNAL_URL = envstr("ALERTS_EXTERNAL_URL", "")
# A message that failed this many times is given up (status failed, last_error kept).
ALERTS_MAX_ATTEMPTS = envint("ALERTS_MAX_ATTEMPTS", 8, minimum=1)
# Retry n waits ALERTS_RETRY_BASE x 2^(n-1) seconds, at most ALERTS_RETRY_MAX.
ALERTS_RETRY_BASE = envfloat("ALERTS_RETRY_BASE", 30.0)
ALERTS_RETRY_MAX = envfloat("ALERTS_RETRY_MAX", 3600.0)
# A sender's claim on a message lasts 3 x the channel's timeout plus this (seconds); a sender
# that died mid-delivery leaves a claim the next run takes over once it has run out.
ALERTS_SEND_LEASE = envfloat("ALERTS_SEND_LEASE", 30.0)
# Days the outbox keeps sent and failed messages (their history, last_error) before deleting them.
ALERTS_OUTBOX_KEEP_DAYS = envint("ALERTS_OUTBOX_KEEP_DAYS", 30, minimum=1)
# Outgoing mail (email channels): Django's SMTP settings.
EMAIL_HOST = envstr("EMAIL_HOST", "localhost")
EMAIL_PORT = envint("EMAIL_PORT", 25, minimum=1)
EMAIL_HOST_USER = envstr("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = envstr("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = envbool("EMAIL_USE_TLS", False)
EMAIL_USE_SSL = envbool("EMAIL_USE_SSL", False)
if EMAIL_USE_TLS and EMAIL_USE_SSL:
    raise ConfigError("EMAIL_USE_TLS and EMAIL_USE_SSL are exclusive: set one")
EMAIL_TIMEOUT = envfloat("EMAIL_TIMEOUT", 10.0)
DEFAULT_FROM_EMAIL = envstr("DEFAULT_FROM_EMAIL", "db_django monitor <monitor@localhost>")
ALERTS_EMAIL_FROM = envstr("ALERTS_EMAIL_FROM", DEFAULT_FROM_EMAIL)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": envstr("LOG_LEVEL", "INFO")},
    # axes: failures and lockouts are warnings; its INFO line on every login is noise.
    "loggers": {"django.db.backends": {"level": "INFO"}, "axes": {"level": "WARNING"}},
}
