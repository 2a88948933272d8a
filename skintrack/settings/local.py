"""The embedded set-up that `make run` starts: debug pages on (for this machine only), everything else as in base."""

from skintrack.settings.base import *  # noqa: F403
from skintrack.settings.base import MIDDLEWARE, env

DEBUG = env.bool("DJANGO_DEBUG", default=True)
# Even bound to 0.0.0.0, a client that is not this machine never gets a debug page (tracebacks show patient data).
MIDDLEWARE = ["skintrack.middleware.LoopbackOnlyDebugPagesMiddleware", *MIDDLEWARE]
