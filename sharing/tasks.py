"""Mail leaves through the worker: a slow or absent mail server never holds up a page."""

import smtplib

from celery import shared_task
from celery.exceptions import SoftTimeLimitExceeded
from celery.utils.time import get_exponential_backoff_interval

from sharing import digests, mail

# Mail-server refusals, dropped connections and DNS failures (OSError) pass; retrying may succeed.
TRANSIENT_MAIL_ERRORS = (smtplib.SMTPException, OSError, SoftTimeLimitExceeded)
MAIL_TASK_OPTIONS = {"bind": True, "acks_late": True, "soft_time_limit": 60, "time_limit": 90, "max_retries": 5}


def retry_later(task, error: BaseException):
    """Back off exponentially (30 s, 60 s, ... at most 15 min, with jitter) before the next attempt."""
    countdown = get_exponential_backoff_interval(factor=30, retries=task.request.retries, maximum=900, full_jitter=True)
    return task.retry(exc=error, countdown=countdown)


@shared_task(**MAIL_TASK_OPTIONS)
def send_share_email_task(self, share_pk: int) -> None:
    try:
        mail.deliver_share(share_pk=share_pk)
    except TRANSIENT_MAIL_ERRORS as error:
        final = self.request.retries >= self.max_retries
        mail.record_failed_attempt(share_pk=share_pk, error=error, final=final)
        if not final:
            raise retry_later(self, error) from error


@shared_task(acks_late=True, soft_time_limit=600, time_limit=660)
def send_photo_digests_task() -> int:
    """Run by beat once a day; each digest is claimed before it goes, so overlapping runs never send it twice."""
    return digests.send_photo_digests()
