"""The portal's mail leaves through the worker, as the shares' does (sharing.tasks)."""

from celery import shared_task

from portal import mail, reminders
from sharing.tasks import MAIL_TASK_OPTIONS, TRANSIENT_MAIL_ERRORS, retry_later


@shared_task(**MAIL_TASK_OPTIONS)
def send_invitation_email_task(self, user_pk: int) -> None:
    try:
        mail.send_invitation(user_pk=user_pk)
    except TRANSIENT_MAIL_ERRORS as error:
        raise retry_later(self, error) from error


@shared_task(**MAIL_TASK_OPTIONS)
def send_address_in_use_email_task(self, invitation_pk: int) -> None:
    try:
        mail.send_address_in_use_notice(invitation_pk=invitation_pk)
    except TRANSIENT_MAIL_ERRORS as error:
        raise retry_later(self, error) from error


@shared_task(acks_late=True, soft_time_limit=600, time_limit=660)
def send_follow_up_reminders_task() -> int:
    """Run by beat; each due lesion is claimed before its email goes, so overlapping runs never remind twice."""
    return reminders.send_due_reminders()
