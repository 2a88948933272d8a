"""Recording audit events: views name the record they acted on with `mark_target`, or the records a list showed
with `mark_list_read`; the middleware then writes the request's event, whatever its outcome, so a refused attempt
is on record too."""

from collections import defaultdict
from collections.abc import Iterable
from contextlib import nullcontext
from dataclasses import dataclass

from django.apps import apps
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import FieldDoesNotExist
from django.db import transaction
from django.http import HttpRequest

from audit.models import AuditEvent, AuditEventPatient
from skintrack.addresses import client_ip

ACTION_BY_METHOD = {
    "GET": AuditEvent.Action.VIEW,
    "HEAD": AuditEvent.Action.VIEW,
    "POST": AuditEvent.Action.CREATE,
    "PUT": AuditEvent.Action.CHANGE,
    "PATCH": AuditEvent.Action.CHANGE,
    "DELETE": AuditEvent.Action.DELETE,
}


# How a record leads to its patient: a lesion through `patient`, a photo or share through `lesion`, a prediction
# through `image`, a share-link opening through `share`.
PATIENT_LINKS = ("patient", "lesion", "image", "share")


def patient_model():
    """The model of the people whose data the trail is about (settings.SKINTRACK_AUDIT_PATIENT_MODEL): named in
    settings, as the user model is, so that the audit app depends on no other app."""
    return apps.get_model(settings.SKINTRACK_AUDIT_PATIENT_MODEL)


@dataclass(frozen=True)
class Target:
    description: str
    patient_id: int | None
    clinic_id: int | None
    patient_ids: tuple[int, ...] = ()  # every patient a list read showed


def leads_to_one(field) -> bool:
    """A foreign key or a one-to-one field of the record itself (a confirmed diagnosis has one lesion)."""
    return field.concrete and (field.many_to_one or field.one_to_one)


def patient_of(record, *, loaded_only: bool = False):
    """The patient a record belongs to: the patient itself, or the patient of its lesion, image or share. With
    `loaded_only`, only a patient already in memory (fetched with select_related): None rather than a query."""
    if isinstance(record, patient_model()):
        return record
    for attribute in PATIENT_LINKS:
        try:
            field = record._meta.get_field(attribute)
        except FieldDoesNotExist:
            continue
        if not leads_to_one(field) or (loaded_only and not field.is_cached(record)):
            return None
        related = getattr(record, attribute)
        return patient_of(related, loaded_only=loaded_only) if related is not None else None
    return None


def patient_lookup(model) -> str | None:
    """The ORM path from a model to its patient's fields ('' for Patient, 'lesion__patient__' for a photo)."""
    if issubclass(model, patient_model()):
        return ""
    for attribute in PATIENT_LINKS:
        try:
            field = model._meta.get_field(attribute)
        except FieldDoesNotExist:
            continue
        inner = patient_lookup(field.related_model) if leads_to_one(field) else None
        if inner is not None:
            return f"{attribute}__{inner}"
    return None


def patients_of(records: Iterable) -> set[tuple[int, int]]:
    """The (patient id, clinic id) of every record: from memory where the patient is loaded, else with one query
    per kind of record, whatever their number."""
    patients = set()
    pks_by_model = defaultdict(list)
    for record in records:
        patient = patient_of(record, loaded_only=True)
        if patient is not None:
            patients.add((patient.pk, patient.clinic_id))
        else:
            pks_by_model[type(record)].append(record.pk)
    for model, pks in pks_by_model.items():
        path = patient_lookup(model)
        patients.update(model._default_manager.filter(pk__in=pks).values_list(f"{path}pk", f"{path}clinic_id"))
    return patients


def list_targets(patients: Iterable[tuple[int, int]], *, description: str) -> tuple[Target, ...]:
    """One target per clinic for a read that showed these (patient id, clinic id) pairs: each clinic's admins then
    read which of their patients were shown, and nothing of another clinic's."""
    by_clinic = defaultdict(set)
    for patient_id, clinic_id in patients:
        by_clinic[clinic_id].add(patient_id)
    if not by_clinic:
        return (Target(description=description, patient_id=None, clinic_id=None),)
    return tuple(
        Target(description=description, patient_id=None, clinic_id=clinic_id, patient_ids=tuple(sorted(ids)))
        for clinic_id, ids in sorted(by_clinic.items())
    )


def describe(record) -> Target:
    # Described at once: after a delete the record has no primary key left to describe.
    patient = patient_of(record)
    return Target(
        description=f"{record._meta.verbose_name} {record.pk}",
        patient_id=patient.pk if patient else None,
        clinic_id=patient.clinic_id if patient else None,
    )


def mark_target(request: HttpRequest, record, *, action: str | None = None, changes: dict | None = None) -> None:
    """Tell the audit middleware which record this request acted on and, when it is not plain CRUD, how; a
    correction also names what it changed, {field: [before, after]}."""
    request.audit_targets = (describe(record),)
    if action is not None:
        request.audit_action = action
    if changes is not None:
        request.audit_changes = changes


def field_values(record, names: Iterable[str]) -> dict:
    """The record's values of these fields (a foreign key as its id), to compare before and after a change."""
    return {name: record._meta.get_field(name).value_from_object(record) for name in names}


def changes_between(before: dict, after: dict) -> dict:
    """{field: [before, after]} for each field whose value differs."""
    return {name: [before[name], after[name]] for name in before if before[name] != after[name]}


def mark_unmatched(request: HttpRequest, *, description: str, action: str) -> None:
    """Tell the audit middleware about a request that named no record it could find (a forged link, say)."""
    request.audit_targets = (Target(description=description, patient_id=None, clinic_id=None),)
    request.audit_action = action


def mark_clinic_records(
    request: HttpRequest, *, clinic_ids: Iterable[int], description: str, action: str | None = None
) -> None:
    """Tell the audit middleware about a request on clinics' own records (their staff, their audit trail), which
    concern no patient: one event per clinic, for that clinic's admins."""
    request.audit_targets = tuple(
        Target(description=description, patient_id=None, clinic_id=clinic_id) for clinic_id in clinic_ids
    )
    if action is not None:
        request.audit_action = action


def mark_list_read(request: HttpRequest, records: Iterable, *, description: str) -> None:
    """Tell the audit middleware that this request showed these records (of any kind that leads to a patient)."""
    request.audit_targets = list_targets(patients_of(records), description=description)


def saw_patient_since(*, user, patient_id: int, since) -> bool:
    """Whether a view of this patient's data by this user, which they were allowed, was recorded since then."""
    views = AuditEvent.objects.filter(actor=user, action=AuditEvent.Action.VIEW, status_code__lt=400)
    return views.filter(occurred_at__gte=since).about_patient(patient_id).exists()


def record_event(
    *,
    request: HttpRequest | None,
    action: str,
    user=None,
    target: Target | None = None,
    status_code=None,
    username="",
    changes: dict | None = None,
) -> AuditEvent:
    if user is None and request is not None:
        user = getattr(request, "user", None)
    if user is not None and not user.is_authenticated:
        user = None
    patient_ids = target.patient_ids if target else ()
    # The event and the patients it names are written together or not at all; a lone event needs no transaction.
    with transaction.atomic() if patient_ids else nullcontext():
        event = AuditEvent.objects.create(
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
            changes=changes,
        )
        AuditEventPatient.objects.bulk_create(
            AuditEventPatient(event=event, patient_id=patient_id) for patient_id in patient_ids
        )
    return event


def record_failed_sign_in(*, request: HttpRequest | None, username: str) -> list[AuditEvent]:
    """A failed sign-in, under the clinic (each clinic) of the account the username names, so that its admins see
    the attempts on their people's accounts; an unknown username's attempt belongs to no clinic."""
    User = get_user_model()
    account = User.objects.filter(**{User.USERNAME_FIELD: username}).first() if username else None
    targets = account_targets(account) if account is not None else (None,)
    return [
        record_event(request=request, action=AuditEvent.Action.LOGIN_FAILED, target=target, username=username)
        for target in targets
    ]


def account_targets(account) -> tuple[Target, ...]:
    patient = patient_model().objects.filter(user=account).first()
    clinic_ids = set(account.clinic_ids()) | ({patient.clinic_id} if patient else set())
    description = f"user {account.pk}"
    if not clinic_ids:
        return (Target(description=description, patient_id=None, clinic_id=None),)
    return tuple(
        Target(
            description=description,
            patient_id=patient.pk if patient and patient.clinic_id == clinic_id else None,
            clinic_id=clinic_id,
        )
        for clinic_id in sorted(clinic_ids)
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
    clinic_ids = list(user.clinic_ids()[:2])
    if len(clinic_ids) == 1:
        return clinic_ids[0]
    patient = getattr(user, "patient_record", None)
    return patient.clinic_id if patient else None
