"""Recording audit events: views name the record they acted on with `mark_target`; the middleware then writes one
event for the request, whatever its outcome, so a refused attempt is on record too."""

from dataclasses import dataclass

from django.http import HttpRequest

from accounts.models import Membership
from audit.addresses import client_ip
from audit.models import AuditEvent
from lesions.models import Patient

ACTION_BY_METHOD = {
    "GET": AuditEvent.Action.VIEW,
    "HEAD": AuditEvent.Action.VIEW,
    "POST": AuditEvent.Action.CREATE,
    "PUT": AuditEvent.Action.CHANGE,
    "PATCH": AuditEvent.Action.CHANGE,
    "DELETE": AuditEvent.Action.DELETE,
}


@dataclass(frozen=True)
class Target:
    description: str
    patient_id: int | None
    clinic_id: int | None


def patient_of(record) -> Patient | None:
    """The patient a record belongs to: the patient itself, or the patient of its lesion, image or share."""
    if isinstance(record, Patient):
        return record
    for attribute in ("patient", "lesion", "image"):
        related = getattr(record, attribute, None)
        if related is not None:
            return patient_of(related)
    return None


def describe(record) -> Target:
    # Described at once: after a delete the record has no primary key left to describe.
    patient = patient_of(record)
    return Target(
        description=f"{record._meta.verbose_name} {record.pk}",
        patient_id=patient.pk if patient else None,
        clinic_id=patient.clinic_id if patient else None,
    )


def mark_target(request: HttpRequest, record, *, action: str | None = None) -> None:
    """Tell the audit middleware which record this request acted on and, when it is not plain CRUD, how."""
    request.audit_target = describe(record)
    if action is not None:
        request.audit_action = action


def record_event(
    *, request: HttpRequest | None, action: str, user=None, target: Target | None = None, status_code=None, username=""
) -> AuditEvent:
    if user is None and request is not None:
        user = getattr(request, "user", None)
    if user is not None and not user.is_authenticated:
        user = None
    return AuditEvent.objects.create(
        actor=user,
        actor_username=user.get_username() if user else username[:150],
        action=action,
        clinic_id=target.clinic_id if target and target.clinic_id else _only_clinic_of(user),
        patient_id=target.patient_id if target else None,
        target=target.description if target else "",
        method=(request.method or "") if request else "",
        path=_path_without_secrets(request)[:500] if request else "",
        status_code=status_code,
        ip_address=client_ip(request) if request else None,
        user_agent=request.META.get("HTTP_USER_AGENT", "")[:300] if request else "",
    )


def _path_without_secrets(request: HttpRequest) -> str:
    """The request's path with any share-link token blanked: the trail must not hand out live links."""
    path = request.get_full_path()
    match = getattr(request, "resolver_match", None)
    token = match.kwargs.get("token") if match else None
    return path.replace(token, "[token]") if token else path


def _only_clinic_of(user) -> int | None:
    if user is None:
        return None
    clinic_ids = list(Membership.objects.filter(user=user).values_list("clinic_id", flat=True)[:2])
    if len(clinic_ids) == 1:
        return clinic_ids[0]
    patient = getattr(user, "patient_record", None)
    return patient.clinic_id if patient else None
