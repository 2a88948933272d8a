"""Settings for pytest: fast hashing, isolated media (the conftest points MEDIA_ROOT at a temporary folder)."""

from skintrack.settings.base import *  # noqa: F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"

# No worker runs in most tests: messages go to an in-process broker nobody reads. The queue tests start a real
# worker on Redis and point the broker there themselves.
CELERY_BROKER_URL = "memory://"
CELERY_BROKER_TRANSPORT_OPTIONS = {}
