"""Workflows that span models: each checks permission, runs in one transaction and leaves nothing half-done."""

import uuid
from dataclasses import dataclass
from datetime import datetime

from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone

from accounts.models import Clinic, User
from audit.services import changes_between, field_values
from lesions import access
from lesions.body_map import body_site_at
from lesions.models import (
    BodySite,
    ChangeAcknowledgement,
    ConfirmedDiagnosis,
    Lesion,
    LesionImage,
    LesionStatusChange,
    Patient,
    PhotoReview,
)
from lesions.tasks import analyse_image_task, classify_image_task
from lesions.uploads import clean_uploaded_image


def clinic_for_new_patient(*, user: User, clinic_id: int | None = None):
    """The clinic a clinician's new patient joins: the one named, else their only clinic."""
    clinics = Clinic.objects.filter(pk__in=access.clinic_ids_of(user))
    if clinic_id is not None:
        clinics = clinics.filter(pk=clinic_id)
    clinics = list(clinics[:2])
    if len(clinics) != 1:
        raise PermissionDenied(
            "Name the clinic the patient joins." if clinics else "Only clinic members can register patients."
        )
    return clinics[0]


def add_lesion_image(
    *,
    lesion: Lesion,
    upload,
    uploaded_by: User,
    modality: str = LesionImage.Modality.DERMOSCOPIC,
    captured_at: datetime | None = None,
) -> LesionImage:
    """Validate, store and queue one photo of a lesion for classification. The patient's clinic may add photos,
    and so may the patient to their own lesions (marked `taken_by_patient`).

    The photo is validated in memory first; if storing or saving then fails, the files already written are
    removed, so a refused or failed upload leaves neither a row nor a file behind.
    """
    if not access.can_add_photos(uploaded_by, lesion):
        raise PermissionDenied("Only the patient's clinic or the patient can add photos to this lesion.")
    if captured_at is not None:
        try:
            captured_at = LesionImage._meta.get_field("captured_at").clean(captured_at, None)
        except ValidationError as error:
            raise ValidationError({"captured_at": error.messages}) from error
    clean = clean_uploaded_image(upload)
    image = LesionImage(
        lesion=lesion,
        captured_at=captured_at or clean.taken_at or timezone.now(),
        modality=modality,
        uploaded_by=uploaded_by,
        width=clean.width,
        height=clean.height,
        sha256=clean.sha256,
        taken_by_patient=not access.can_edit_patient(uploaded_by, lesion.patient),
    )
    stem = uuid.uuid4().hex
    try:
        with transaction.atomic():
            image.image.save(f"{stem}.jpg", ContentFile(clean.content), save=False)
            image.thumbnail.save(f"{stem}.jpg", ContentFile(clean.thumbnail), save=False)
            image.save()
            classify_image_task.delay_on_commit(image.pk)
    except BaseException:
        for stored in (image.image, image.thumbnail):
            if stored.name:
                stored.storage.delete(stored.name)
        raise
    return image


@transaction.atomic
def confirm_diagnosis(
    *, lesion: Lesion, recorded_by: User, dx: str, dx_type: str, confirmed_on, note: str = "", dx_other: str = ""
) -> ConfirmedDiagnosis:
    """Record (or correct) what the lesion turned out to be; only the patient's clinic may. An 'Other' diagnosis
    is named in words (`dx_other`)."""
    if not access.can_edit_patient(recorded_by, lesion.patient):
        raise PermissionDenied("Only the patient's clinic can record a confirmed diagnosis.")
    diagnosis, _ = ConfirmedDiagnosis.objects.update_or_create(
        lesion=lesion,
        defaults={
            "dx": dx,
            "dx_other": ConfirmedDiagnosis.other_named(dx=dx, dx_other=dx_other),
            "dx_type": dx_type,
            "confirmed_on": confirmed_on,
            "note": note,
            "recorded_by": recorded_by,
        },
    )
    return diagnosis


def classify_held_back_photo(*, image: LesionImage, requested_by: User) -> LesionImage:
    """Queue a photo the photo check held back for classification anyway, recording who asked. Only the patient's
    clinic may: the answer on such a photo needs a clinician to weigh the reasons it was held back."""
    if not access.can_edit_patient(requested_by, image.lesion.patient):
        raise PermissionDenied("Only the patient's clinic can ask for the model's answer on a held-back photo.")
    with transaction.atomic():
        released = LesionImage.objects.filter(pk=image.pk, status=LesionImage.Status.GATED).update(
            status=LesionImage.Status.QUEUED, gate_overridden_by=requested_by, gate_overridden_at=timezone.now()
        )
        if not released:
            raise ValidationError("This photo is not held back by the photo check, so there is nothing to release.")
        classify_image_task.delay_on_commit(image.pk)
    image.refresh_from_db()
    return image


def check_clinician_of(*, user: User, image: LesionImage) -> None:
    if not access.can_review(user, image):
        raise PermissionDenied("Only a clinician of the patient's clinic can review this photo.")


@transaction.atomic
def review_photo(*, image: LesionImage, reviewed_by: User, disposition: str, note_to_patient: str = "") -> PhotoReview:
    """Record a clinician's review of a photo's result (reviewing again corrects it), which releases the result
    to the patient and acknowledges a change flagged on it. Only members of the patient's clinic review, and only
    a finished analysis: a review before the result exists would release a result nobody has seen."""
    check_clinician_of(user=reviewed_by, image=image)
    image = LesionImage.objects.select_for_update().get(pk=image.pk)
    if image.status not in (LesionImage.Status.DONE, LesionImage.Status.FAILED, LesionImage.Status.GATED):
        raise ValidationError("The analysis of this photo has not finished: review it once its result is in.")
    now = timezone.now()
    review, _ = PhotoReview.objects.update_or_create(
        image=image,
        defaults={
            "reviewed_by": reviewed_by,
            "reviewed_at": now,
            "disposition": disposition,
            "note_to_patient": note_to_patient.strip(),
        },
    )
    if image.change_flagged:
        ChangeAcknowledgement.objects.get_or_create(
            image=image, defaults={"acknowledged_by": reviewed_by, "acknowledged_at": now}
        )
    return review


@transaction.atomic
def acknowledge_change(*, image: LesionImage, acknowledged_by: User) -> ChangeAcknowledgement:
    """A clinician has looked at the change flagged on this photo; acknowledging twice keeps the first."""
    check_clinician_of(user=acknowledged_by, image=image)
    image = LesionImage.objects.select_for_update().get(pk=image.pk)
    if not image.change_flagged:
        raise ValidationError("No change is flagged on this photo: there is nothing to acknowledge.")
    acknowledgement, _ = ChangeAcknowledgement.objects.get_or_create(
        image=image, defaults={"acknowledged_by": acknowledged_by, "acknowledged_at": timezone.now()}
    )
    return acknowledgement


@transaction.atomic
def change_lesion_status(*, lesion: Lesion, status: str, changed_by: User, note: str = "") -> LesionStatusChange:
    """Move the lesion to a new status and record the step in its history; only the patient's clinic may."""
    if not access.can_edit_patient(changed_by, lesion.patient):
        raise PermissionDenied("Only the patient's clinic can change the lesion's status.")
    lesion = Lesion.objects.select_for_update().get(pk=lesion.pk)
    if lesion.status == status:
        raise ValidationError(f"The lesion is already {lesion.get_status_display().lower()}.")
    lesion.status = status
    lesion.save(update_fields=["status"])
    return LesionStatusChange.objects.create(
        lesion=lesion, status=status, note=note.strip(), changed_by=changed_by, changed_at=timezone.now()
    )


@dataclass(frozen=True)
class Correction:
    """A record as a correction left it, and what the correction changed ({field: [before, after]}) for the audit
    trail."""

    record: Patient | Lesion | LesionImage | Clinic
    changes: dict


def check_clinic_of(*, user: User, patient_id: int, doing: str) -> None:
    if not access.patients_editable_by(user).filter(pk=patient_id).exists():
        raise PermissionDenied(f"Only the patient's clinic can {doing}.")


def check_clinic_admin_of(*, user: User, patient_id: int) -> None:
    if not Patient.objects.filter(pk=patient_id, clinic_id__in=access.clinic_ids_of(user, admin=True)).exists():
        raise PermissionDenied("Only an admin of the patient's clinic can restore deleted records.")


def save_fields(record, fields: dict) -> dict:
    """Set and save these fields, answering what changed."""
    before = field_values(record, fields)
    for name, value in fields.items():
        setattr(record, name, value)
    changes = changes_between(before, field_values(record, fields))
    if changes:
        record.save(update_fields=[*changes, *(["updated_at"] if hasattr(record, "updated_at") else [])])
    return changes


@transaction.atomic
def update_patient(*, patient: Patient, changed_by: User, fields: dict) -> Correction:
    """Correct a patient's details (validated by the page's form or the API's serializer); the clinic only."""
    check_clinic_of(user=changed_by, patient_id=patient.pk, doing="change the patient's details")
    unknown = set(fields) - set(Patient.RECORD_FIELDS)
    if unknown:
        raise ValidationError(f"These are not a patient's details: {', '.join(sorted(unknown))}.")
    patient = Patient.objects.select_for_update().get(pk=patient.pk)
    return Correction(patient, save_fields(patient, fields))


@transaction.atomic
def update_lesion(*, lesion: Lesion, changed_by: User, fields: dict) -> Correction:
    """Correct a lesion's details. A pin moved on the body diagram sets the body site to where it landed (when it
    landed on the figure)."""
    check_clinic_of(user=changed_by, patient_id=lesion.patient_id, doing="change the lesion's details")
    lesion = Lesion.objects.select_for_update().get(pk=lesion.pk)
    fields = dict(fields)
    pin = (fields.get("diagram_x", lesion.diagram_x), fields.get("diagram_y", lesion.diagram_y))
    if None not in pin and pin != (lesion.diagram_x, lesion.diagram_y):
        site = body_site_at(*pin)
        if site != BodySite.UNKNOWN:
            fields["body_site"] = site
    return Correction(lesion, save_fields(lesion, fields))


def refresh_changes(*, lesion_ids) -> list[int]:
    """After photos were moved, re-dated, deleted or restored: each photo of these lesions whose measured change no
    longer compares it with the photo now before it is measured again by the worker (the change stage), and its
    acknowledgement goes, since the new change must be looked at again. Answers the photos sent to the worker.
    The order is the one `pipeline.record_change_from_previous` measures in: outlined photos, oldest first."""
    remeasured = []
    for lesion_id in set(lesion_ids):
        photos = LesionImage.objects.filter(lesion_id=lesion_id).exclude(mask="").order_by("captured_at", "id")
        previous = None
        for photo in photos:
            expected_before = previous.pk if previous else None
            previous = photo
            stored_before = (photo.change_from_previous or {}).get("before_id")
            finished = photo.change_status in (LesionImage.Status.DONE, LesionImage.Status.FAILED)
            if stored_before == expected_before or not finished:
                continue  # still right, or the worker's pending run measures against the photo now before it
            ChangeAcknowledgement.objects.filter(image=photo).delete()
            if expected_before is None:
                LesionImage.objects.filter(pk=photo.pk).update(change_from_previous=None)
                continue
            LesionImage.objects.filter(pk=photo.pk).update(
                change_from_previous=None, change_status=LesionImage.Status.QUEUED, stage_changed_at=timezone.now()
            )
            analyse_image_task.delay_on_commit(photo.pk)
            remeasured.append(photo.pk)
    return remeasured


@transaction.atomic
def correct_photo(
    *, image: LesionImage, changed_by: User, lesion_id: int | None = None, captured_at: datetime | None = None
) -> Correction:
    """Move a photo to another lesion of the same patient and/or re-date it, within the bounds an upload has; the
    changes that depended on its place in either lesion are measured again."""
    check_clinic_of(user=changed_by, patient_id=image.lesion.patient_id, doing="correct this photo")
    image = LesionImage.objects.select_for_update().select_related("lesion").get(pk=image.pk)
    fields = {}
    if lesion_id is not None:
        if not Lesion.objects.filter(pk=lesion_id, patient_id=image.lesion.patient_id).exists():
            raise ValidationError({"lesion": "A photo can only move to another lesion of the same patient."})
        fields["lesion_id"] = lesion_id
    if captured_at is not None:
        try:
            fields["captured_at"] = LesionImage._meta.get_field("captured_at").clean(captured_at, None)
        except ValidationError as error:
            raise ValidationError({"captured_at": error.messages}) from error
    old_lesion_id = image.lesion_id
    changes = save_fields(image, fields)
    if changes:
        refresh_changes(lesion_ids=[old_lesion_id, image.lesion_id])
    return Correction(image, changes)


@transaction.atomic
def set_photo_scale(*, image: LesionImage, changed_by: User, mm_per_pixel: float | None) -> Correction:
    """Record the photo's scale (millimetres per pixel of the stored photo), or forget it (None); the clinic only."""
    check_clinic_of(user=changed_by, patient_id=image.lesion.patient_id, doing="set this photo's scale")
    image = LesionImage.objects.select_for_update().get(pk=image.pk)
    try:
        LesionImage._meta.get_field("mm_per_pixel").clean(mm_per_pixel, image)
    except ValidationError as error:
        raise ValidationError({"mm_per_pixel": error.messages}) from error
    return Correction(image, save_fields(image, {"mm_per_pixel": mm_per_pixel}))


@transaction.atomic
def set_dermatoscope_field_of_view(*, clinic: Clinic, changed_by: User, millimetres: float | None) -> Correction:
    """Record the width of skin the clinic's dermatoscope shows across a photo (None: unknown); its admins only."""
    if not access.is_clinic_admin(changed_by, clinic.pk):
        raise PermissionDenied("Only an admin of the clinic can set its dermatoscope's field of view.")
    clinic = Clinic.objects.select_for_update().get(pk=clinic.pk)
    return Correction(clinic, save_fields(clinic, {"dermatoscope_field_of_view_mm": millimetres}))


def mark_deleted(record, *, deleted_by: User, now: datetime) -> dict:
    return save_fields(record, {"deleted_at": now, "deleted_by": deleted_by})


@transaction.atomic
def delete_photo(*, image: LesionImage, deleted_by: User) -> Correction:
    """Delete a photo (restorable by a clinic admin for RESTORABLE_FOR, then purged with its files)."""
    check_clinic_of(user=deleted_by, patient_id=image.lesion.patient_id, doing="delete this photo")
    image = LesionImage.objects.select_for_update().get(pk=image.pk)
    changes = mark_deleted(image, deleted_by=deleted_by, now=timezone.now())
    refresh_changes(lesion_ids=[image.lesion_id])
    return Correction(image, changes)


@transaction.atomic
def delete_lesion(*, lesion: Lesion, deleted_by: User) -> Correction:
    """Delete a lesion and its photos, which are restored with it (photos deleted before it stay deleted)."""
    check_clinic_of(user=deleted_by, patient_id=lesion.patient_id, doing="delete this lesion")
    lesion = Lesion.objects.select_for_update().get(pk=lesion.pk)
    now = timezone.now()
    photos = list(LesionImage.objects.filter(lesion=lesion).values_list("pk", flat=True))
    LesionImage.objects.filter(pk__in=photos).update(deleted_at=now, deleted_by=deleted_by)
    changes = mark_deleted(lesion, deleted_by=deleted_by, now=now)
    return Correction(lesion, {**changes, "photos_deleted": [[], photos]})


def restorable_for(model, *, user: User):
    """The deleted photos (or lesions) of the user's clinics still within their restore period."""
    patient_path = "patient" if model is Lesion else "lesion__patient"
    restorable = model.with_deleted.deleted().restorable(now=timezone.now())
    return restorable.filter(**{f"{patient_path}__in": access.patients_editable_by(user)})


def restorable_deleted(model, *, pk: int):
    """A deleted photo or lesion still within its restore period, locked."""
    record = model.with_deleted.deleted().restorable(now=timezone.now()).select_for_update().filter(pk=pk).first()
    if record is None:
        raise ValidationError(f"This {model._meta.verbose_name} is not deleted, or was deleted too long ago.")
    return record


@transaction.atomic
def restore_photo(*, image: LesionImage, restored_by: User) -> Correction:
    check_clinic_admin_of(user=restored_by, patient_id=image.lesion.patient_id)
    image = restorable_deleted(LesionImage, pk=image.pk)
    if image.lesion.deleted_at is not None:
        raise ValidationError("This photo's lesion is deleted: restore the lesion, which brings its photos back.")
    changes = save_fields(image, {"deleted_at": None, "deleted_by": None})
    refresh_changes(lesion_ids=[image.lesion_id])
    return Correction(image, changes)


@transaction.atomic
def restore_lesion(*, lesion: Lesion, restored_by: User) -> Correction:
    check_clinic_admin_of(user=restored_by, patient_id=lesion.patient_id)
    lesion = restorable_deleted(Lesion, pk=lesion.pk)
    photos = LesionImage.with_deleted.filter(lesion=lesion, deleted_at=lesion.deleted_at)
    restored = list(photos.values_list("pk", flat=True))
    photos.update(deleted_at=None, deleted_by=None)
    changes = save_fields(lesion, {"deleted_at": None, "deleted_by": None})
    refresh_changes(lesion_ids=[lesion.pk])
    return Correction(lesion, {**changes, "photos_restored": [[], restored]})
