"""Writing and sending the share email; the Celery task in sharing.tasks calls deliver_share with retries."""

import logging

from django.conf import settings
from django.contrib.auth.tokens import default_token_generator
from django.core.mail import EmailMultiAlternatives
from django.db.models import F
from django.template import Context, engines
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from accounts.models import User
from sharing.links import absolute_url, share_page_url
from sharing.models import Invitation, Share
from sharing.reports import lesion_report_pdf, report_filename
from sharing.summary import summarise_share

logger = logging.getLogger(__name__)

# Mail servers commonly refuse messages over 10-25 MB; the newest photos travel, the link shows them all.
MAX_ATTACHED_IMAGES = 10


def render_email(template: str, context: dict) -> tuple[str, str, str]:
    """Subject, plain text and HTML of templates/email/<template>_{subject.txt,body.txt,body.html}."""
    subject = " ".join(render_plain_text(f"email/{template}_subject.txt", context).split())
    return (
        subject,
        render_plain_text(f"email/{template}_body.txt", context),
        render_to_string(f"email/{template}_body.html", context),
    )


def render_plain_text(template_name: str, context: dict) -> str:
    """A template rendered without HTML escaping: a subject or a text body is not HTML, and O'Brien must not
    arrive as O&#x27;Brien."""
    engine = engines["django"].engine
    return engine.get_template(template_name).render(Context(context, autoescape=False))


def email_message(template: str, context: dict, *, to: str, reply_to: str = "") -> EmailMultiAlternatives:
    subject, text, html = render_email(template, context)
    message = EmailMultiAlternatives(
        subject=subject,
        body=text,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[to],
        reply_to=[reply_to] if reply_to else None,
    )
    message.attach_alternative(html, "text/html")
    return message


def share_email(share: Share) -> EmailMultiAlternatives:
    summary = summarise_share(share)
    context = {
        "share": share,
        "summary": summary,
        "link": share_page_url(share),
        "shared_by_patient": share.created_by_id is not None and share.created_by_id == share.lesion.patient.user_id,
    }
    reply_to = share.created_by.email if share.created_by else ""
    message = email_message("share", context, to=share.recipient_email, reply_to=reply_to)
    if share.attach_pdf:
        message.attach(report_filename(summary), lesion_report_pdf(summary), "application/pdf")
    if share.attach_images:
        for row in summary.photos[-MAX_ATTACHED_IMAGES:]:
            with row.image.image.open("rb") as stored:
                name = f"lesion-{share.lesion_id}-{row.taken_at:%Y-%m-%d}-{row.image.pk}.jpg"
                message.attach(name, stored.read(), "image/jpeg")
    return message


def deliver_share(*, share_pk: int) -> None:
    """Send one share's email; mail-server errors propagate for the task to retry or record."""
    share = Share.objects.select_related("lesion__patient__clinic", "created_by").filter(pk=share_pk).first()
    if share is None or share.delivery_status == Share.Delivery.SENT:
        # Deleted meanwhile, or a redelivered task after a successful send: never send twice.
        return
    if share.is_revoked:
        Share.objects.filter(pk=share_pk).update(delivery_status=Share.Delivery.CANCELLED)
        return
    message = share_email(share)
    Share.objects.filter(pk=share_pk).update(delivery_attempts=F("delivery_attempts") + 1)
    message.send()
    Share.objects.filter(pk=share_pk).update(
        delivery_status=Share.Delivery.SENT, sent_at=timezone.now(), delivery_error=""
    )


def record_failed_attempt(*, share_pk: int, error: BaseException, final: bool) -> None:
    logger.warning("Sending share %s failed%s: %r", share_pk, " for good" if final else ", will retry", error)
    Share.objects.filter(pk=share_pk).update(
        delivery_status=Share.Delivery.FAILED if final else Share.Delivery.QUEUED,
        delivery_error=f"{type(error).__name__}: {error}"[:2000],
    )


def send_invitation(*, user_pk: int) -> None:
    """Email an invited patient, or a clinic's invited colleague, a link to choose their password (Django's
    password-reset token and page)."""
    user = User.objects.select_related("patient_record__clinic").filter(pk=user_pk).first()
    if user is None or user.has_usable_password() or not user.email or not user.is_active:
        # Deleted or deactivated, or the password is already chosen: the invitation has done its work.
        return
    uidb64 = urlsafe_base64_encode(force_bytes(user.pk))
    token = default_token_generator.make_token(user)
    path = reverse("password_reset_confirm", kwargs={"uidb64": uidb64, "token": token})
    context = {
        "user": user,
        "link": absolute_url(path),
        "valid_days": max(1, settings.PASSWORD_RESET_TIMEOUT // 86400),
    }
    if user.is_patient:
        message = email_message("invitation", {**context, "patient": user.patient_record}, to=user.email)
    else:
        membership = user.memberships.select_related("clinic").first()
        message = email_message("staff_invitation", {**context, "membership": membership}, to=user.email)
    message.send()


def send_address_in_use_notice(*, invitation_pk: int) -> None:
    """Tell the holder of an address a clinic invited, which already has an account elsewhere, that it did: the
    clinic was answered as for any invitation, so only the address's owner can sort it out."""
    invitation = Invitation.objects.select_related("patient__clinic").filter(pk=invitation_pk).first()
    if invitation is None or invitation.notice_sent_at is not None:
        return
    context = {
        "clinic": invitation.patient.clinic,
        "sign_in_link": absolute_url(reverse("login")),
        "reset_link": absolute_url(reverse("password_reset")),
    }
    email_message("address_in_use", context, to=invitation.email).send()
    Invitation.objects.filter(pk=invitation_pk).update(notice_sent_at=timezone.now())


def send_reminder(*, patient, lesions: list) -> None:
    context = {"patient": patient, "lesions": lesions, "link": absolute_url(reverse("home"))}
    email_message("reminder", context, to=patient.user.email).send()
