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
CELERY_BROKER_TRANSPORT_OPTIONS = {}

# The queue tests' worker is another process, so it must see the test database: SQLite's test database is a file
# (named per test run, so runs side by side do not share one), never the default in-memory one.
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":  # noqa: F405
    test_database = Path(tempfile.gettempdir()) / f"skintrack-test-{os.getpid()}.sqlite3"
    DATABASES["default"]["TEST"] = {"NAME": str(test_database)}  # noqa: F405

AXES_VERBOSE = False
