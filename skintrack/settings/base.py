"""Settings shared by every environment; each value comes from the environment with a typed default.

The defaults are the embedded set-up (SQLite, media on local disk, mail written to files, a broker on disk),
so that `make run` needs no service installed. Production must name its services: production.py refuses to
start without them (REQUIRED_VARIABLES).
"""

from datetime import timedelta
from pathlib import Path

import environ
from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured

from skintrack.broker import TRANSPORT as FILESYSTEM_TRANSPORT
from skintrack.broker import filesystem_transport_options

BASE_DIR = Path(__file__).resolve().parent.parent.parent
VAR_DIR = BASE_DIR / "var"

env = environ.Env()
env.read_env(BASE_DIR / ".env", overwrite=False)

SECRET_KEY = env.str("DJANGO_SECRET_KEY", default="insecure-development-key-change-me-in-production")
DEBUG = env.bool("DJANGO_DEBUG", default=False)
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])

DJANGO_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
]
THIRD_PARTY_APPS = [
    "rest_framework",
    "knox",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "axes",
]
LOCAL_APPS = [
    "accounts",
    "lesions",
    "audit",
    "sharing",
    "portal",
]
INSTALLED_APPS = DJANGO_APPS + THIRD_PARTY_APPS + LOCAL_APPS

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "skintrack.middleware.NoStoreMiddleware",
    # Before anything reads the body (sessions, CSRF): an oversized upload is refused unread.
    "lesions.upload_limits.UploadSizeLimitMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "accounts.middleware.InactivityTimeoutMiddleware",
    "audit.middleware.AuditMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "skintrack.middleware.ContentSecurityPolicyMiddleware",
    # Last, as django-axes asks: it turns a locked-out sign-in into its lockout answer.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "skintrack.urls"
WSGI_APPLICATION = "skintrack.wsgi.application"

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

DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'skintrack.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # A fresh clone has no var/ yet, and SQLite creates the file but not its folder.
    Path(DATABASES["default"]["NAME"]).parent.mkdir(parents=True, exist_ok=True)
    # The embedded database is written by the web and worker processes at once: WAL lets readers and one writer
    # work side by side (and commits wait less for the disk), IMMEDIATE takes the write lock up front instead
    # of failing mid-transaction with "database is locked".
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL",
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
    }
DATABASES["default"]["ATOMIC_REQUESTS"] = False
DATABASES["default"]["CONN_MAX_AGE"] = env.int("DJANGO_CONN_MAX_AGE", default=0)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "accounts.User"
# Whose data the audit trail is about: each event names the patient (and clinic) a record belongs to.
SKINTRACK_AUDIT_PATIENT_MODEL = "lesions.Patient"
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"
AUTHENTICATION_BACKENDS = [
    # django-axes first, so that a locked-out username/IP pair is refused before its password is even checked.
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
# Reverse proxies (load balancer, nginx) between clients and gunicorn: 0 when clients connect to gunicorn directly.
SKINTRACK_TRUSTED_PROXY_COUNT = env.int("SKINTRACK_TRUSTED_PROXY_COUNT", default=0)
AXES_CLIENT_IP_CALLABLE = "skintrack.addresses.client_ip"
AXES_FAILURE_LIMIT = env.int("SKINTRACK_LOGIN_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = env.float("SKINTRACK_LOGIN_COOLOFF_HOURS", default=0.25)
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
# Failed sign-ins from one client address, whatever the usernames, before it is locked out for the cool-off time.
SKINTRACK_LOGIN_FAILURES_PER_ADDRESS = env.int("SKINTRACK_LOGIN_FAILURES_PER_ADDRESS", default=20)
AXES_HANDLER = "accounts.lockout.SignInLockoutHandler"
# Password-reset emails per hour: per address typed, and per client address.
SKINTRACK_PASSWORD_RESETS_PER_EMAIL_PER_HOUR = env.int("SKINTRACK_PASSWORD_RESETS_PER_EMAIL_PER_HOUR", default=3)
SKINTRACK_PASSWORD_RESETS_PER_ADDRESS_PER_HOUR = env.int("SKINTRACK_PASSWORD_RESETS_PER_ADDRESS_PER_HOUR", default=10)
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-gb"
TIME_ZONE = env.str("DJANGO_TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]

# Media: local disk by default; a private S3-compatible bucket with signed URLs when a bucket is named.
MEDIA_ROOT = env.path("DJANGO_MEDIA_ROOT", default=VAR_DIR / "media")
AWS_STORAGE_BUCKET_NAME = env.str("AWS_STORAGE_BUCKET_NAME", default="")
if AWS_STORAGE_BUCKET_NAME:
    MEDIA_STORAGE = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": AWS_STORAGE_BUCKET_NAME,
            "endpoint_url": env.str("AWS_S3_ENDPOINT_URL", default=None),
            "region_name": env.str("AWS_S3_REGION_NAME", default=None),
            "access_key": env.str("AWS_ACCESS_KEY_ID", default=None),
            "secret_key": env.str("AWS_SECRET_ACCESS_KEY", default=None),
            "default_acl": "private",
            "querystring_auth": True,
            "signature_version": "s3v4",
            "querystring_expire": env.int("AWS_QUERYSTRING_EXPIRE", default=300),
            "file_overwrite": False,
        },
    }
else:
    MEDIA_STORAGE = {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": MEDIA_ROOT, "base_url": None},
    }
STORAGES = {
    "default": MEDIA_STORAGE,
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

# Mail: an SMTP server when one is named, else each message is written to a file under var/mail/.
EMAIL_HOST = env.str("EMAIL_HOST", default="")
if EMAIL_HOST:
    EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    EMAIL_PORT = env.int("EMAIL_PORT", default=25)
    EMAIL_HOST_USER = env.str("EMAIL_HOST_USER", default="")
    EMAIL_HOST_PASSWORD = env.str("EMAIL_HOST_PASSWORD", default="")
    EMAIL_USE_TLS = env.bool("EMAIL_USE_TLS", default=False)
    EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", default=10)
else:
    EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
    EMAIL_FILE_PATH = VAR_DIR / "mail"
DEFAULT_FROM_EMAIL = env.str("DJANGO_DEFAULT_FROM_EMAIL", default="SkinTrack <skintrack@localhost>")
# Links in emails (shares, invitations, reminders) are written by the worker, which has no request to take a host
# from: this is the address people reach the site at. Unless named, the one `make run` serves on: its PORT, which
# the web and the worker process both see (production requires the address).
try:
    make_run_port = env.int("PORT", default=8000)
except ValueError:
    raise ImproperlyConfigured(f"PORT must be a port number such as 8000, not {env.str('PORT')!r}.") from None
SKINTRACK_BASE_URL = env.str("SKINTRACK_BASE_URL", default=f"http://127.0.0.1:{make_run_port}")

REDIS_URL = env.str("REDIS_URL", default="")

# One cache shared by web and worker processes (measured comparisons): Redis when named, else files under var/.
if REDIS_URL:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": VAR_DIR / "cache-django",
        }
    }

# Celery: Redis when REDIS_URL is set; otherwise a broker kept in files under var/broker/, which needs no server.
BROKER_DIR = Path(env.str("CELERY_BROKER_DIR", default=str(VAR_DIR / "broker")))
if REDIS_URL:
    CELERY_BROKER_URL = REDIS_URL
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        # A message a killed worker held comes back after this long. It must outlast the longest a photo's message
        # stays unacknowledged: a retry's countdown (at most 20 s) plus its task's hard time limit (at most 45 s).
        # (The safety net, every 10 s, sends a dead worker's stage again sooner: after its time limit.)
        "visibility_timeout": env.int("CELERY_VISIBILITY_TIMEOUT", default=300),
        # Keeps the keys of deployments (or test runs) that share one Redis apart.
        "global_keyprefix": env.str("CELERY_REDIS_KEY_PREFIX", default=""),
    }
else:
    CELERY_BROKER_URL = "filesystem://"
    CELERY_BROKER_TRANSPORT = FILESYSTEM_TRANSPORT
    CELERY_BROKER_TRANSPORT_OPTIONS = filesystem_transport_options(
        BROKER_DIR, polling_interval=env.float("CELERY_POLLING_INTERVAL", default=0.02)
    )
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Classification has a queue (and in `make run` and docker-compose a worker process) of its own, so that a burst of
# outlines and comparisons (up to seconds each) never delays a prediction; the analyst takes the analysis queue and
# the default one (mail, reminders, the safety net) and never loads the classifier.
CELERY_TASK_ROUTES = {
    "lesions.tasks.classify_image_task": {"queue": "classification"},
    "lesions.tasks.analyse_image_task": {"queue": "analysis"},
    "lesions.tasks.measure_pair_task": {"queue": "analysis"},
}
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_ALWAYS_EAGER = False
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = TIME_ZONE
# Beat (a process of its own) emails follow-up reminders and the clinicians' photo digests once a day, purges deleted
# records, and runs the processing safety net; its state file lives under var/.
CELERY_BEAT_SCHEDULE = {
    "follow-up-reminders": {
        "task": "portal.tasks.send_follow_up_reminders_task",
        "schedule": crontab(minute=0, hour=env.int("SKINTRACK_REMINDER_HOUR", default=9)),
    },
    "resend-unfinished-stages": {"task": "lesions.tasks.resend_unfinished_stages_task", "schedule": 10.0},
    "photo-digests": {
        "task": "sharing.tasks.send_photo_digests_task",
        "schedule": crontab(minute=0, hour=env.int("SKINTRACK_DIGEST_HOUR", default=7)),
    },
    # Photos and lesions deleted over 30 days ago go for good, with their files.
    "purge-deleted": {"task": "lesions.tasks.purge_deleted_task", "schedule": crontab(minute=30, hour=3)},
}
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # Token first, so an unauthenticated API call answers 401 with a WWW-Authenticate header.
        "accounts.authentication.ApiTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_THROTTLE_RATES": {"login": env.str("SKINTRACK_LOGIN_THROTTLE", default="10/min")},
    "EXCEPTION_HANDLER": "skintrack.api_errors.exception_handler",
}
# API tokens (django-rest-knox): stored as digests, one per sign-in, ending after this long, on sign-out, on a
# password change or reset, and when the account is deactivated.
REST_KNOX = {
    "TOKEN_TTL": timedelta(hours=env.float("SKINTRACK_API_TOKEN_HOURS", default=10)),
    "AUTH_HEADER_PREFIX": "Token",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "SkinTrack API",
    "DESCRIPTION": (
        "Clinics following patients' skin lesions over time. Predictions are decision support for clinicians, "
        "not a diagnosis."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    # Several models have a field named "status" with its own choices: each gets a name of its own; a photo's
    # classification, outline and change stages share one vocabulary of states.
    "ENUM_NAME_OVERRIDES": {
        "LesionStatusEnum": "lesions.models.LesionStatus",
        "ProcessingStateEnum": "lesions.models.LesionImage.Status",
    },
    # Swagger UI from this site's static files: many clinics have no internet, and the content-security policy
    # allows scripts from this site only.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
}

# Uploads: bounded before decoding, so a hostile file costs little.
SKINTRACK_MAX_UPLOAD_BYTES = env.int("SKINTRACK_MAX_UPLOAD_BYTES", default=20 * 1024 * 1024)
SKINTRACK_MAX_UPLOAD_PIXELS = env.int("SKINTRACK_MAX_UPLOAD_PIXELS", default=40_000_000)
SKINTRACK_MIN_IMAGE_SIDE = 64
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
FILE_UPLOAD_HANDLERS = [
    "lesions.upload_limits.BoundedUploadHandler",
    "django.core.files.uploadhandler.MemoryFileUploadHandler",
    "django.core.files.uploadhandler.TemporaryFileUploadHandler",
]
DATA_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024

# Shares and portal invitations send email to any address the sender types: a cap per sender and hour keeps a stolen
# account (or a stuck script) from turning the clinic's mail server into a spam relay.
SKINTRACK_SHARES_PER_HOUR = env.int("SKINTRACK_SHARES_PER_HOUR", default=30)
SKINTRACK_INVITATIONS_PER_HOUR = env.int("SKINTRACK_INVITATIONS_PER_HOUR", default=30)

SKINTRACK_MODEL_PATH = env.str("SKINTRACK_MODEL_PATH", default="")
# ONNX Runtime threads per process. One: each worker pool process is one unit of parallelism, and on a small shared
# machine extra spinning threads slow every process down (measured in docs/performance.md).
SKINTRACK_MODEL_THREADS = env.int("SKINTRACK_MODEL_THREADS", default=1)

# A signed-in session ends after this long without a request; each clinic sets its own (Clinic's
# inactivity_timeout_minutes), this is for users of no clinic. SESSION_COOKIE_AGE bounds a session in any case.
SKINTRACK_INACTIVITY_TIMEOUT_MINUTES = env.int("SKINTRACK_INACTIVITY_TIMEOUT_MINUTES", default=30)
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_AGE = env.int("DJANGO_SESSION_COOKIE_AGE", default=60 * 60 * 10)
CSRF_COOKIE_SAMESITE = "Lax"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# Scripts, styles and images come from this site only; the pages load no third-party code.
SKINTRACK_CONTENT_SECURITY_POLICY = (
    "default-src 'self'; img-src 'self' data: blob:; style-src 'self' 'unsafe-inline'; script-src 'self'; "
    "object-src 'none'; base-uri 'self'; frame-ancestors 'none'; form-action 'self'"
)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("DJANGO_LOG_LEVEL", default="INFO")},
}
