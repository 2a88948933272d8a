from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Q

from accounts.models import Clinic, Membership, User


@transaction.atomic
def add_clinician(*, username: str, email: str, password: str, clinic_name: str, admin: bool = False) -> Membership:
    """Create a clinician (or clinic admin) and their clinic if it does not exist yet."""
    clinic, _ = Clinic.objects.get_or_create(name=clinic_name)
    user = User(username=username, email=email)
    user.set_password(password)
    user.full_clean()
    user.save()
    role = Membership.Role.ADMIN if admin else Membership.Role.CLINICIAN
    return Membership.objects.create(user=user, clinic=clinic, role=role)


def administered_clinic(clinic_id: int, *, by: User) -> Clinic:
    """The clinic, locked until the transaction ends so that two admins' changes to its staff happen one after the
    other (the last-admin rule holds under concurrency), if `by` is one of its admins."""
    if not by.is_member_of(clinic_id, admin=True):
        raise PermissionDenied("Only an admin of the clinic manages its staff.")
    return Clinic.objects.select_for_update().get(pk=clinic_id)


@transaction.atomic
def invite_member(*, clinic: Clinic, invited_by: User, email: str, role: str) -> Membership:
    """A new account for a colleague, without a usable password (they choose their own from the invitation email,
    which the caller sends), signing in with their email address."""
    clinic = administered_clinic(clinic.pk, by=invited_by)
    email = User.objects.normalize_email((email or "").strip())
    if not email:
        raise ValidationError({"email": "Give your colleague's email address."})
    if role not in Membership.Role.values:
        raise ValidationError({"role": "Choose a role the clinic has: clinic admin or clinician."})
    holder = User.objects.filter(Q(username__iexact=email) | Q(email__iexact=email)).first()
    if holder is not None and holder.is_member_of(clinic.pk):
        raise ValidationError({"email": f"{holder.display_name} is already a member of {clinic}."})
    if holder is not None:
        raise ValidationError(
            {
                "email": "This address already has a SkinTrack account. Ask your colleague for another address, or "
                "ask the SkinTrack administrators to add their account to the clinic."
            }
        )
    user = User(username=email, email=email)
    user.set_unusable_password()
    user.full_clean()
    user.save()
    return Membership.objects.create(user=user, clinic=clinic, role=role)


@transaction.atomic
def change_role(*, membership: Membership, role: str, changed_by: User) -> Membership:
    clinic = administered_clinic(membership.clinic_id, by=changed_by)
    membership = Membership.objects.select_for_update().select_related("user").get(pk=membership.pk)
    if role not in Membership.Role.values:
        raise ValidationError({"role": "Choose a role the clinic has: clinic admin or clinician."})
    if membership.role == Membership.Role.ADMIN and role != Membership.Role.ADMIN:
        check_another_admin_remains(membership, clinic=clinic, acting=changed_by)
    membership.role = role
    membership.save(update_fields=["role"])
    return membership


@transaction.atomic
def deactivate_member(*, membership: Membership, deactivated_by: User) -> User:
    """The member's account stops working at once: it can no longer sign in, and its API tokens and signed-in
    sessions end. The membership stays, so that the staff list and the audit trail still name them."""
    clinic = administered_clinic(membership.clinic_id, by=deactivated_by)
    membership = Membership.objects.select_related("user").get(pk=membership.pk)
    user = membership.user
    if not user.is_active:
        raise ValidationError(f"{user.display_name}'s account is already deactivated.")
    if user.memberships.exclude(clinic=clinic).exists() or user.is_patient:
        # Deactivating the account would lock them out of records another clinic, or they as a patient, still hold.
        raise ValidationError(
            f"{user.display_name}'s account is also used outside {clinic}: ask the SkinTrack administrators."
        )
    if membership.role == Membership.Role.ADMIN:
        check_another_admin_remains(membership, clinic=clinic, acting=deactivated_by)
    user.is_active = False
    user.save(update_fields=["is_active"])  # which also deletes the account's API tokens (User.save)
    user.end_sessions()
    return user


def check_another_admin_remains(membership: Membership, *, clinic: Clinic, acting: User) -> None:
    """Refuses a change that would leave the clinic without an active admin to manage its staff."""
    others = Membership.objects.filter(clinic=clinic, role=Membership.Role.ADMIN, user__is_active=True)
    if others.exclude(pk=membership.pk).exists():
        return
    who = "You are" if membership.user_id == acting.pk else f"{membership.user.display_name} is"
    raise ValidationError(f"{who} the last admin of {clinic}: make another member an admin first.")
