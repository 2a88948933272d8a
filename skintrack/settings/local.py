"""The embedded set-up that `make run` starts: debug pages on, everything else as in base."""

from skintrack.settings.base import *  # noqa: F403
from skintrack.settings.base import env

DEBUG = env.bool("DJANGO_DEBUG", default=True)
