"""The patient portal's front door: the clinic invites a patient, who then chooses their own password."""

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from accounts.models import User
from lesions import access
from lesions.models import Patient
from portal.models import Invitation
from portal.tasks import send_address_in_use_email_task, send_invitation_email_task
from sharing.services import check_email, check_send_limit


@transaction.atomic
def invite_patient(*, patient: Patient, invited_by: User, email: str) -> Invitation:
    """Create (or re-invite) the patient's account, without a usable password, and email them a link to set one.

    The account's username is the email address, which is what the patient signs in with. When an account outside
    the patient's clinic already uses the address, the answer is the same as for any invitation, so that no clinic
    learns who has an account elsewhere: that account's holder is told of the invitation instead."""
    if not access.can_edit_patient(invited_by, patient):
        raise PermissionDenied("Only the patient's clinic can invite them.")
    email = User.objects.normalize_email((email or "").strip())
    if not email:
        raise ValidationError({"email": "Give the patient's email address."})
    check_email(email, field="email")
    patient = Patient.objects.select_for_update().get(pk=patient.pk)
    user = patient.user
    if user is not None and user.has_usable_password():
        raise ValidationError({"email": "This patient already has an account and has chosen a password."})
    holders = User.objects.filter(Q(username__iexact=email) | Q(email__iexact=email))
    if user is not None:
        holders = holders.exclude(pk=user.pk)
    holder = holders.first()
    if holder is not None and is_known_to_clinic(holder, clinic_id=patient.clinic_id):
        raise ValidationError({"email": "Another account at this clinic already uses this email address."})
    now = timezone.now()
    limit = settings.SKINTRACK_INVITATIONS_PER_HOUR
    check_send_limit(
        sender=invited_by,
        sent=Invitation.objects.filter(invited_by=invited_by),
        limit=limit,
        sent_words=f"sent {limit} invitations",
        now=now,
    )
    invitation = Invitation.objects.create(patient=patient, invited_by=invited_by, email=email, created_at=now)
    if holder is not None:
        send_address_in_use_email_task.delay_on_commit(invitation.pk)
        return invitation
    if user is None:
        user = User(username=email)
        user.set_unusable_password()
    user.email = email
    user.full_clean()
    user.save()
    if patient.user_id != user.pk:
        patient.user = user
        patient.save(update_fields=["user", "updated_at"])
    send_invitation_email_task.delay_on_commit(user.pk)
    return invitation


def is_known_to_clinic(user: User, *, clinic_id: int) -> bool:
    """Whether the clinic already knows this account: one of its members, or one of its patients."""
    return user.is_member_of(clinic_id) or Patient.objects.filter(user=user, clinic_id=clinic_id).exists()
