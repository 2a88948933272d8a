"""Workflows that span models: each checks permission, runs in one transaction and leaves nothing half-done."""

import uuid
from datetime import datetime

from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone

from accounts.models import Clinic, User
from lesions import access
from lesions.models import (
    ChangeAcknowledgement,
    ConfirmedDiagnosis,
    Lesion,
    LesionImage,
    LesionStatusChange,
    PhotoReview,
)
from lesions.tasks import classify_image_task
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
