"""Django settings, read only from the environment (see .env.example for every variable)."""

from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DEBUG = env.bool("DEBUG", default=False)
SECRET_KEY = env.str("SECRET_KEY", default="")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off.")
    SECRET_KEY = "insecure-development-key-used-only-with-debug-on"

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "django_celery_beat",
    "nested_admin",  # nested inlines: tariff -> elements -> price components
    "roaming",
    "locations",
    "sessions_app",
    "billing",
]

MIDDLEWARE = [
    # First, so that every answer under /ocpi/ (even Django's own 404/500) is an OCPI envelope.
    "roaming.transport.middleware.OcpiMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

# Requests under /ocpi/ leave MIDDLEWARE after OcpiMiddleware for this chain of their own.
OCPI_MIDDLEWARE = ["django.middleware.security.SecurityMiddleware"]

ROOT_URLCONF = "cpms.urls"
WSGI_APPLICATION = "cpms.wsgi.application"

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

# --- Database: an embedded SQLite file unless DATABASE_URL names a server -----------------------
DATABASE_URL = env.str("DATABASE_URL", default="") or f"sqlite:///{VAR_DIR / 'cpms.sqlite3'}"
DATABASES = {"default": env.db_url_config(DATABASE_URL)}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Web, worker and beat share the file: wait for locks instead of failing, and take the write
    # lock at the start of a transaction so two writers never deadlock on an upgrade.
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 30,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
else:
    DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("DATABASE_CONN_MAX_AGE", default=60))
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = env.path("STATIC_ROOT", default=str(VAR_DIR / "static"))

LOGIN_URL = "admin:login"

# --- Our identity in the roaming network ------------------------------------------------------
# Our own CPO identities, as "CC-PID:Name" separated by ";" (country code and party id per OCPI).
OCPI_OUR_PARTIES = env.str(
    "OCPI_OUR_PARTIES", default="NL-OPN:Open CPMS Netherlands;DE-OPN:Open CPMS Deutschland"
)
# Public base URL under which partners reach our OCPI API (no trailing slash).
OCPI_BASE_URL = env.str("OCPI_BASE_URL", default="http://localhost:8000/ocpi").rstrip("/")
# Largest page a partner may ask for on our list endpoints.
OCPI_MAX_PAGE_SIZE = env.int("OCPI_MAX_PAGE_SIZE", default=1000)
# Largest request body we accept on the OCPI API (bytes); bigger ones get HTTP 413.
OCPI_MAX_BODY_BYTES = env.int("OCPI_MAX_BODY_BYTES", default=1024 * 1024)
# Fernet keys (comma-separated; the first encrypts, all decrypt) for the partners' tokens at rest.
# Empty: a key derived from SECRET_KEY, so changing SECRET_KEY then loses the stored tokens.
OCPI_TOKEN_ENCRYPTION_KEY = env.list("OCPI_TOKEN_ENCRYPTION_KEY", default=[])
# Outbound OCPI calls: seconds to connect and to wait for an answer.
OCPI_CLIENT_CONNECT_TIMEOUT = env.float("OCPI_CLIENT_CONNECT_TIMEOUT", default=5.0)
OCPI_CLIENT_READ_TIMEOUT = env.float("OCPI_CLIENT_READ_TIMEOUT", default=30.0)
# How much of each request and response body the exchange log keeps (characters).
OCPI_EXCHANGE_LOG_BODY_CHARS = env.int("OCPI_EXCHANGE_LOG_BODY_CHARS", default=4096)
# Push outbox: a failed delivery is retried after the base delay, doubling per failure up to the
# cap; a change not delivered within the horizon is given up (dead, visible in admin).
OCPI_PUSH_RETRY_BASE_SECONDS = env.float("OCPI_PUSH_RETRY_BASE_SECONDS", default=10.0)
OCPI_PUSH_RETRY_MAX_SECONDS = env.float("OCPI_PUSH_RETRY_MAX_SECONDS", default=900.0)
OCPI_PUSH_RETRY_HORIZON_HOURS = env.float("OCPI_PUSH_RETRY_HORIZON_HOURS", default=48.0)
# Outbox rows a delivery worker claims at once, and days finished rows are kept (CDR rows stay).
OCPI_PUSH_BATCH_SIZE = env.int("OCPI_PUSH_BATCH_SIZE", default=200)
OCPI_PUSH_KEEP_DAYS = env.int("OCPI_PUSH_KEEP_DAYS", default=14)
# Share of successful push calls written to the exchange log (1: all). Failed calls are always
# written in full; every delivery is kept on its outbox row and in the hourly delivery figures.
OCPI_PUSH_EXCHANGE_LOG_SAMPLE = env.float("OCPI_PUSH_EXCHANGE_LOG_SAMPLE", default=0.01)
# Charging: a session's meter updates reach partners at most once per this many seconds; a
# command the charger has not answered within the timeout gets TIMEOUT; a real-time authorization
# call to an eMSP waits at most this long before the offline rules apply.
CHARGING_SESSION_PUSH_INTERVAL_SECONDS = env.int(
    "CHARGING_SESSION_PUSH_INTERVAL_SECONDS", default=60
)
CHARGING_COMMAND_TIMEOUT_SECONDS = env.int("CHARGING_COMMAND_TIMEOUT_SECONDS", default=60)
CHARGING_AUTHORIZE_TIMEOUT_SECONDS = env.float("CHARGING_AUTHORIZE_TIMEOUT_SECONDS", default=3.0)

# --- Celery: an embedded broker on the file system unless CELERY_BROKER_URL names a server -----
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="") or "filesystem://"
if CELERY_BROKER_URL.startswith("filesystem://"):
    _broker_dir = VAR_DIR / "broker"
    for _folder in ("queue", "processed", "control"):
        (_broker_dir / _folder).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "queue"),
        "data_folder_out": str(_broker_dir / "queue"),
        "processed_folder": str(_broker_dir / "processed"),
        "control_folder": str(_broker_dir / "control"),
        "store_processed": False,
    }
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SOFT_TIME_LIMIT = env.int("CELERY_TASK_SOFT_TIME_LIMIT", default=60)
CELERY_TASK_TIME_LIMIT = env.int("CELERY_TASK_TIME_LIMIT", default=90)
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_TIMEZONE = "UTC"

# --- DRF ---------------------------------------------------------------------------------------
REST_FRAMEWORK: dict[str, object] = {
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_AUTHENTICATION_CLASSES": [],
    "DEFAULT_PERMISSION_CLASSES": [],
    "UNAUTHENTICATED_USER": None,
    "EXCEPTION_HANDLER": "roaming.transport.errors.ocpi_exception_handler",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "CPMS OCPI API",
    "DESCRIPTION": "OCPI 2.1.1, 2.2.1 and 2.3.0 endpoints of this charge point operator.",
    "VERSION": "1.0.0",
}

# --- Security ----------------------------------------------------------------------------------
SESSION_COOKIE_SECURE = env.bool("SECURE_COOKIES", default=not DEBUG)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
# On by default without DEBUG (the proxy must pass X-Forwarded-Proto, see SECURE_PROXY_SSL_HEADER);
# the test suite turns it off for its plain-HTTP client in tests/conftest.py.
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=not DEBUG)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = not DEBUG
SECURE_HSTS_PRELOAD = not DEBUG
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"

# --- Security: caches, rate limits, login lockout, audit trail (tests/security) ----------------
# Rate-limit counters and lockouts live here: per process with the default local memory, shared
# by all web processes with redis://host:6379/1 (Django's built-in RedisCache).
CACHES = {"default": env.cache_url("CACHE_URL", default="locmemcache://")}
# Requests per minute on the OCPI API per partner connection, and per client IP for requests
# whose token is missing or unknown (token guessing); 0 switches a limit off.
OCPI_RATE_LIMIT = env.int("OCPI_RATE_LIMIT", default=6000)
OCPI_RATE_LIMIT_UNAUTHENTICATED = env.int("OCPI_RATE_LIMIT_UNAUTHENTICATED", default=120)
# Reverse proxies in front of us that append to X-Forwarded-For: the client IP is read that many
# entries from the right; 0 trusts only the socket address (the header can be forged).
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0)

INSTALLED_APPS += [
    "axes",  # admin login lockout
    "auditlog",  # who changed what, shown in the admin
    "cpms.audit.AuditConfig",  # registers the audited models with auditlog
    "cpms.database.DatabaseConfig",  # timestamps read by psycopg's C loader
]
MIDDLEWARE += [
    "auditlog.middleware.AuditlogMiddleware",  # after authentication: records the staff user
    "cpms.security.AdminContentSecurityPolicyMiddleware",  # Django 5.2 has no CSP of its own
    "axes.middleware.AxesMiddleware",  # last, as django-axes requires
]
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",  # first: refuses locked-out logins
    "django.contrib.auth.backends.ModelBackend",
]
# Admin login: after AXES_FAILURE_LIMIT wrong passwords for one username from one IP, that pair is
# refused until AXES_COOLOFF_MINUTES have passed since the last failure.
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = env.float("AXES_COOLOFF_MINUTES", default=15.0) / 60  # hours
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_CLIENT_IP_CALLABLE = "cpms.security.client_ip"  # the same rule as the OCPI rate limit
# auditlog would record the first X-Forwarded-For entry, which any client can forge: an audit
# trail names the staff user instead (and axes' access log keeps the login addresses).
AUDITLOG_DISABLE_REMOTE_ADDR = True

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    # django-axes announces its version at INFO on every start; only its warnings matter.
    "loggers": {"axes": {"level": "WARNING"}},
}
