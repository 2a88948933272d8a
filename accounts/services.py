from django.db import transaction

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
