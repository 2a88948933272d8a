"""Share links: the share's id and its random nonce, signed with the site's secret key.

The signature stops anyone from forging a link for another share's id; the nonce, stored only in the database,
means a link can only come from the email that carried it. Expiry and revocation live in the database, so that a
clinic can change them after sending: the link itself stays valid in form and the view answers 410.
"""

import hmac

from django.conf import settings
from django.core import signing
from django.urls import reverse

from sharing.models import Share

SALT = "sharing.share-link.v1"


def share_token(share: Share) -> str:
    return signing.Signer(salt=SALT).sign_object({"share": share.pk, "nonce": share.nonce})


def share_for_token(token: str) -> Share | None:
    """The share a token names, or None when it was tampered with, forged or names no share."""
    try:
        payload = signing.Signer(salt=SALT).unsign_object(token)
    except (signing.BadSignature, ValueError, UnicodeDecodeError):
        return None
    if not isinstance(payload, dict) or not isinstance(payload.get("share"), int):
        return None
    share = (
        Share.objects.select_related("lesion__patient__clinic")
        .filter(pk=payload["share"], lesion__deleted_at__isnull=True)
        .first()
    )
    if share is None or not hmac.compare_digest(share.nonce, str(payload.get("nonce", ""))):
        return None
    return share


def absolute_url(path: str) -> str:
    """Emails are written by the worker, which has no request: links use the configured public address."""
    return settings.SKINTRACK_BASE_URL.rstrip("/") + path


def share_page_url(share: Share) -> str:
    return absolute_url(reverse("sharing:shared-lesion", args=[share_token(share)]))
