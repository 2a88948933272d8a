"""The portal's emails: the invitation to choose a password (a colleague's too), the notice to an address already
in use, and the follow-up reminder."""

from django.conf import settings
from django.contrib.auth.tokens import default_token_generator
from django.urls import reverse
from django.utils import timezone
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from accounts.models import User
from portal.models import Invitation
from sharing.links import absolute_url
from sharing.mail import email_message


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
