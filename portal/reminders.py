"""Follow-up reminders: a lesion is due when its latest photo is older than its follow-up interval; the patient is
emailed once per due period (a new photo starts the next period)."""

import logging
import smtplib
from collections import defaultdict
from datetime import datetime

from django.db import transaction
from django.db.models import Max, Q
from django.utils import timezone

from lesions.models import Lesion
from portal import mail

logger = logging.getLogger(__name__)


def due_lesions(lesions, *, now: datetime | None = None) -> list[Lesion]:
    """The lesions among `lesions` still followed (not excised or closed) due for a new photo, each with `due_at`
    and `last_photo_at` set, most overdue first. Also what a dashboard lists."""
    now = now or timezone.now()
    due = []
    planned = lesions.still_followed().filter(follow_up_interval__isnull=False)
    planned = planned.annotate(last_photo_at=Max("images__captured_at", filter=Q(images__deleted_at__isnull=True)))
    for lesion in planned.select_related("patient__user"):
        lesion.due_at = lesion.follow_up_overdue_since(lesion.last_photo_at, now=now)
        if lesion.due_at is not None:
            due.append(lesion)
    return sorted(due, key=lambda lesion: lesion.due_at)


def claim_for_reminder(lesion: Lesion, *, now: datetime) -> bool:
    """Mark the lesion reminded for its current due period; False if someone already did (a concurrent run)."""
    not_yet_reminded = Q(follow_up_reminded_at__isnull=True) | Q(follow_up_reminded_at__lt=lesion.due_at)
    return bool(Lesion.objects.filter(not_yet_reminded, pk=lesion.pk).update(follow_up_reminded_at=now))


def send_due_reminders(*, now: datetime | None = None) -> int:
    """Email each patient with an email address one reminder listing their newly due lesions; returns how many
    emails left. A failed email rolls its claims back, so the next run tries again."""
    now = now or timezone.now()
    by_patient = defaultdict(list)
    for lesion in due_lesions(Lesion.objects.filter(patient__user__email__gt=""), now=now):
        if lesion.follow_up_reminded_at is None or lesion.follow_up_reminded_at < lesion.due_at:
            by_patient[lesion.patient].append(lesion)
    sent = 0
    for patient, lesions in by_patient.items():
        try:
            with transaction.atomic():
                claimed = [lesion for lesion in lesions if claim_for_reminder(lesion, now=now)]
                if claimed:
                    mail.send_reminder(patient=patient, lesions=claimed)
                    sent += 1
        except (smtplib.SMTPException, OSError):
            logger.exception("The reminder to patient %s could not be sent; the next run retries.", patient.pk)
    return sent
