"""Production: HTTPS only, secure cookies, hashed static files. Secrets and services come from the environment."""

from django.core.exceptions import ImproperlyConfigured

from skintrack.settings.build import *  # noqa: F403
from skintrack.settings.build import MIDDLEWARE, SKINTRACK_TRUSTED_PROXY_COUNT, env

# Without these the base settings fall back to the embedded set-up: SQLite, media and mail as files, a broker on
# disk, links to localhost. Inside a container those are lost or wrong, so start-up stops instead.
REQUIRED_VARIABLES = (
    "DJANGO_SECRET_KEY",
    "DATABASE_URL",
    "REDIS_URL",
    "EMAIL_HOST",
    "AWS_STORAGE_BUCKET_NAME",
    "SKINTRACK_BASE_URL",
)
missing_variables = [name for name in REQUIRED_VARIABLES if not env.str(name, default="").strip()]
if missing_variables:
    raise ImproperlyConfigured(
        f"Production settings need these environment variables, which are not set: {', '.join(missing_variables)}. "
        "Set them (docker-compose.yml shows every one) or run with skintrack.settings.local."
    )

DEBUG = False
SECRET_KEY = env.str("DJANGO_SECRET_KEY")

# Whether the client used HTTPS is the TLS-terminating proxy's word, in X-Forwarded-Proto. Without proxies in front
# (SKINTRACK_TRUSTED_PROXY_COUNT, as for the client's address) anyone reaching gunicorn could send that header and
# pass for HTTPS, skipping the redirect; with them, gunicorn must be reachable through them only.
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if SKINTRACK_TRUSTED_PROXY_COUNT else None
SECURE_SSL_REDIRECT = env.bool("DJANGO_SECURE_SSL_REDIRECT", default=True)
SECURE_HSTS_SECONDS = env.int("DJANGO_SECURE_HSTS_SECONDS", default=60 * 60 * 24 * 365)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True

MIDDLEWARE.insert(
    MIDDLEWARE.index("django.middleware.security.SecurityMiddleware") + 1, "whitenoise.middleware.WhiteNoiseMiddleware"
)
