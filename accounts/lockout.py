"""Limits on guessing: sign-ins per client address (on top of django-axes' username+address lockout) and
password-reset emails per account and per address."""

from axes.attempts import get_cool_off_threshold
from axes.handlers.database import AxesDatabaseHandler
from axes.models import AccessAttempt
from django.conf import settings
from django.core.cache import cache
from django.db.models import Sum

from skintrack.addresses import client_ip


class SignInLockoutHandler(AxesDatabaseHandler):
    """django-axes' database handler, plus a limit per client address whatever the usernames tried: locking each
    username+address pair alone lets one address try a common password on every account (password spraying).
    The limit is higher than a pair's, so a clinic behind one address is not locked out by one forgetful user."""

    def is_locked(self, request, credentials: dict | None = None) -> bool:
        return super().is_locked(request, credentials) or self.failures_from_address(request) >= (
            settings.SKINTRACK_LOGIN_FAILURES_PER_ADDRESS
        )

    def user_login_failed(self, sender, credentials: dict, request=None, **kwargs):
        super().user_login_failed(sender, credentials, request, **kwargs)
        # django-axes flags the request it locks out (AxesMiddleware then answers with the lockout page); it only
        # counts the username+address pair, so the address's own limit flags it here.
        if request is not None and self.failures_from_address(request) >= settings.SKINTRACK_LOGIN_FAILURES_PER_ADDRESS:
            request.axes_locked_out = True

    @staticmethod
    def failures_from_address(request) -> int:
        address = getattr(request, "axes_ip_address", None) or client_ip(request)
        recent = AccessAttempt.objects.filter(ip_address=address, attempt_time__gte=get_cool_off_threshold(request))
        return recent.aggregate(total=Sum("failures_since_start"))["total"] or 0


def take_allowance(key: str, *, limit: int, window_seconds: int) -> bool:
    """Count one use of `key` in a fixed window (in the cache every process shares); False once `limit` uses
    were counted."""
    cache.add(key, 0, timeout=window_seconds)
    try:
        used = cache.incr(key)
    except ValueError:  # the window ended between add() and incr()
        cache.set(key, 1, timeout=window_seconds)
        used = 1
    return used <= limit
