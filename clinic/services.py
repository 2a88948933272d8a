"""What the staff page and the staff API both do around accounts' services: the invitation email and the audit."""

from django.http import HttpRequest

from accounts.models import Clinic, Membership, User
from accounts.services import invite_member
from audit.services import mark_clinic_records
from portal.tasks import send_invitation_email_task


def invite_colleague(*, clinic: Clinic, invited_by: User, email: str, role: str) -> Membership:
    """The colleague's account, and the email (the one patients are invited with) that lets them choose a password."""
    membership = invite_member(clinic=clinic, invited_by=invited_by, email=email, role=role)
    send_invitation_email_task.delay_on_commit(membership.user_id)
    return membership


def mark_staff_change(request: HttpRequest, membership: Membership, *, change: str, action: str) -> None:
    mark_clinic_records(
        request, clinic_ids=[membership.clinic_id], description=f"user {membership.user_id} {change}", action=action
    )
