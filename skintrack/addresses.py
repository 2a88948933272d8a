"""Where a request came from, for the audit trail, share-link openings and the sign-in lockout."""

import ipaddress

from django.conf import settings


def client_ip(request) -> str | None:
    """The client's address. Behind SKINTRACK_TRUSTED_PROXY_COUNT reverse proxies, each of which appends the address
    it received from to X-Forwarded-For, the client is that many entries from the right; anything further left
    could have been written by the client itself, so it is never used."""
    remote = request.META.get("REMOTE_ADDR") or None
    proxies = settings.SKINTRACK_TRUSTED_PROXY_COUNT
    if not proxies:
        return remote
    forwarded = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if part.strip()]
    if len(forwarded) < proxies:
        return remote  # the request did not come through every proxy
    try:
        return str(ipaddress.ip_address(forwarded[-proxies]))
    except ValueError:
        return remote
