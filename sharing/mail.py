"""Writing and sending the share email; the Celery task in sharing.tasks calls deliver_share with retries."""

import logging

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db.models import F
from django.template import Context, engines
from django.template.loader import render_to_string
from django.utils import timezone

from lesions.reports import lesion_report_pdf, report_filename
from sharing.links import share_page_url
from sharing.models import Share

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
    summary = share.summary()
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
