"""The daily photo digest: clinicians who opt in are emailed once a day about the photos their clinic's patients
sent from home since the last digest, with how many still wait for review. The email names no patient: the review
queue behind the sign-in does."""

import logging
import smtplib
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from accounts.models import Membership
from lesions.models import LesionImage
from sharing import mail
from sharing.links import absolute_url

logger = logging.getLogger(__name__)

# A member's first digest (or one after a long pause) covers at most this far back.
LONGEST_PERIOD = timedelta(days=1)


def home_photos_since(membership: Membership, *, now: datetime):
    since = max(filter(None, (membership.photo_digest_sent_at, now - LONGEST_PERIOD)))
    return LesionImage.objects.filter(
        lesion__patient__clinic_id=membership.clinic_id,
        taken_by_patient=True,
        created_at__gt=since,
        created_at__lte=now,
    )


def claim_digest(membership: Membership, *, now: datetime) -> bool:
    """Mark the member's digest sent for this run; False if a concurrent run already did."""
    not_sent_since = Q(photo_digest_sent_at__isnull=True) | Q(photo_digest_sent_at=membership.photo_digest_sent_at)
    return bool(Membership.objects.filter(not_sent_since, pk=membership.pk).update(photo_digest_sent_at=now))


def send_photo_digests(*, now: datetime | None = None) -> int:
    """Email each opted-in member with an address who has new home photos; returns how many emails left. A failed
    email rolls its claim back, so the next run covers those photos again."""
    now = now or timezone.now()
    sent = 0
    members = Membership.objects.filter(photo_digest=True, user__is_active=True, user__email__gt="")
    for membership in members.select_related("user", "clinic"):
        photos = home_photos_since(membership, now=now)
        arrived = photos.count()
        if not arrived:
            continue
        context = {
            "user": membership.user,
            "clinic": membership.clinic,
            "arrived": arrived,
            "patients": photos.values("lesion__patient").distinct().count(),
            "awaiting_review": photos.unreviewed().count(),
            "link": absolute_url(reverse("review-queue")),
        }
        try:
            with transaction.atomic():
                if claim_digest(membership, now=now):
                    mail.email_message("photo_digest", context, to=membership.user.email).send()
                    sent += 1
        except (smtplib.SMTPException, OSError):
            logger.exception("The photo digest to member %s could not be sent; the next run retries.", membership.pk)
    return sent
