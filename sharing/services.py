"""Sharing a lesion and revoking a share: each checks permission and runs in one transaction."""

from datetime import timedelta

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from accounts.models import User
from lesions import access
from lesions.models import Lesion
from sharing.models import Share, ShareOpening
from sharing.tasks import send_share_email_task

DEFAULT_EXPIRY_DAYS = 14
MAX_EXPIRY_DAYS = 90
USER_AGENT_LENGTH = 500
SEND_LIMIT_WINDOW = timedelta(hours=1)


class SendLimitReached(Exception):
    """The sender has sent as many emails of a kind as an hour allows; `retry_after` seconds until the next one may
    go."""

    def __init__(self, *, sent: str, retry_after: int):
        self.retry_after = retry_after
        super().__init__(
            f"You have {sent} in the last hour, the most an hour allows. "
            f"Try again in {-(-retry_after // 60)} minute(s)."
        )


def check_send_limit(*, sender: User, sent: QuerySet, limit: int, sent_words: str, now) -> None:
    """Refuse a send past `limit` in an hour from one sender. `sent` holds the sender's earlier sends (rows with a
    `created_at`); `sent_words` says what they were, for the message. The sender's row is locked, so concurrent
    sends are counted one after another."""
    User.objects.select_for_update().only("pk").get(pk=sender.pk)
    recent = sent.filter(created_at__gt=now - SEND_LIMIT_WINDOW).order_by("created_at")
    count = recent.count()
    if count >= limit:
        frees_a_place = recent[count - limit].created_at + SEND_LIMIT_WINDOW
        raise SendLimitReached(sent=sent_words, retry_after=int((frees_a_place - now).total_seconds()) + 1)


def check_email(address: str, *, field: str) -> None:
    """Refuse a malformed address as an error of the named field, as forms and the API report it."""
    try:
        validate_email(address)
    except ValidationError as error:
        raise ValidationError({field: error.messages}) from error


@transaction.atomic
def share_lesion(
    *,
    lesion: Lesion,
    shared_by: User,
    to: str = "",
    message: str = "",
    expires_in_days: int = DEFAULT_EXPIRY_DAYS,
    attach_pdf: bool = False,
    attach_images: bool = False,
) -> Share:
    """Record a share and queue its email, which leaves once the share is committed."""
    if not access.can_share(shared_by, lesion):
        raise PermissionDenied("Only the patient's clinic or the patient can share this lesion.")
    patient = lesion.patient
    recipient = (to or "").strip() or patient.family_physician_email
    if not recipient:
        raise ValidationError(
            {"to": "No family physician email is on file for this patient: give the address to send to."}
        )
    check_email(recipient, field="to")
    if not 1 <= expires_in_days <= MAX_EXPIRY_DAYS:
        raise ValidationError({"expires_in_days": f"A link lasts from 1 to {MAX_EXPIRY_DAYS} days."})
    if (attach_pdf or attach_images) and not patient.clinic.allow_email_attachments:
        raise ValidationError(
            {
                "attach_pdf" if attach_pdf else "attach_images": (
                    f"{patient.clinic} does not allow attachments: email is not encrypted end to end and an "
                    "attachment cannot be withdrawn. The link shows the photos and the PDF report."
                )
            }
        )
    is_family_physician = recipient.lower() == patient.family_physician_email.lower()
    now = timezone.now()
    limit = settings.SKINTRACK_SHARES_PER_HOUR
    check_send_limit(
        sender=shared_by,
        sent=Share.objects.filter(created_by=shared_by),
        limit=limit,
        sent_words=f"shared {limit} times",
        now=now,
    )
    share = Share.objects.create(
        lesion=lesion,
        created_by=shared_by,
        recipient_email=recipient,
        recipient_name=patient.family_physician_name if is_family_physician else "",
        message=message.strip(),
        attach_pdf=attach_pdf,
        attach_images=attach_images,
        created_at=now,
        expires_at=now + timedelta(days=expires_in_days),
    )
    share.images.set(lesion.images.all())
    send_share_email_task.delay_on_commit(share.pk)
    return share


@transaction.atomic
def revoke_share(*, share: Share, revoked_by: User) -> Share:
    """Close a share's link for good; revoking twice keeps the first time. An unsent email is then not sent."""
    share = Share.objects.select_for_update().select_related("lesion").get(pk=share.pk)
    if not access.can_share(revoked_by, share.lesion):
        raise PermissionDenied("Only the patient's clinic or the patient can revoke this share.")
    if not share.is_revoked:
        share.revoked_at = timezone.now()
        share.revoked_by = revoked_by
        share.save(update_fields=["revoked_at", "revoked_by"])
    return share


def record_opening(
    *, share: Share, resource: str, ip_address: str | None, user_agent: str, found: bool = True
) -> ShareOpening:
    """Log one request through a share link with the answer it got: served, refused as revoked/expired, or refused
    as not `found` in the share (a photo it was not sent with)."""
    outcome = {
        "active": ShareOpening.Outcome.SERVED if found else ShareOpening.Outcome.NOT_FOUND,
        "revoked": ShareOpening.Outcome.REVOKED,
        "expired": ShareOpening.Outcome.EXPIRED,
    }[share.state]
    return ShareOpening.objects.create(
        share=share,
        resource=resource,
        outcome=outcome,
        ip_address=ip_address or None,
        user_agent=user_agent[:USER_AGENT_LENGTH],
    )
