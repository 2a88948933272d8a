"""The patient portal's front door: the clinic invites a patient, who then chooses their own password."""

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Q

from accounts.models import User
from lesions.models import Patient
from sharing.services import check_email
from sharing.tasks import send_invitation_email_task


@transaction.atomic
def invite_patient(*, patient: Patient, invited_by: User, email: str) -> User:
    """Create (or re-invite) the patient's account, without a usable password, and email them a link to set one.

    The account's username is the email address, which is what the patient signs in with."""
    if not Patient.objects.editable_by(invited_by).filter(pk=patient.pk).exists():
        raise PermissionDenied("Only the patient's clinic can invite them.")
    email = User.objects.normalize_email((email or "").strip())
    if not email:
        raise ValidationError({"email": "Give the patient's email address."})
    check_email(email, field="email")
    patient = Patient.objects.select_for_update().get(pk=patient.pk)
    user = patient.user
    if user is not None and user.has_usable_password():
        raise ValidationError({"email": "This patient already has an account and has chosen a password."})
    others = User.objects.filter(Q(username__iexact=email) | Q(email__iexact=email))
    if user is not None:
        others = others.exclude(pk=user.pk)
    if others.exists():
        raise ValidationError({"email": "Another account already uses this email address."})
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
    return user
