"""Production: HTTPS only, secure cookies, hashed static files. Secrets come from the environment."""

from skintrack.settings.base import *  # noqa: F403
from skintrack.settings.base import MIDDLEWARE, SKINTRACK_TRUSTED_PROXY_COUNT, STORAGES, env

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
STORAGES["staticfiles"] = {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"}
