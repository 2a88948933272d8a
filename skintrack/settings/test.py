"""Settings for pytest: fast hashing, isolated media (the conftest points MEDIA_ROOT at a temporary folder)."""

import os
import tempfile
from pathlib import Path

from skintrack.settings.base import *  # noqa: F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"

# No worker runs in most tests: messages go to an in-process broker nobody reads. The queue tests start a real
# worker on Redis and point the broker there themselves.
CELERY_BROKER_URL = "memory://"
CELERY_BROKER_TRANSPORT = None  # the embedded broker's transport class would override the URL's
CELERY_BROKER_TRANSPORT_OPTIONS = {}

# Each test run gets its own test database, named after the process, so that runs side by side never share one.
# The queue tests' worker is another process and must see it: SQLite's test database is therefore a file, never
# the default in-memory one.
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":  # noqa: F405
    test_database = str(Path(tempfile.gettempdir()) / f"skintrack-test-{os.getpid()}.sqlite3")
else:
    test_database = f"test_{DATABASES['default']['NAME']}_{os.getpid()}"  # noqa: F405
DATABASES["default"]["TEST"] = {"NAME": test_database}  # noqa: F405

CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
