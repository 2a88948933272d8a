"""Who may do what with a clinic's patient data: each rule once.

A rule comes as a queryset of what the user may reach (lists, lookups, the admin) and as a check on one object
(services, pages, DRF permissions). Both forms rest on the user's memberships (User.clinic_ids), so they cannot
disagree: members of a patient's clinic see and change everything of that patient, a clinic admin also deletes the
patient's record, and a patient sees their own record and adds photos and shares to it."""

from django.db import models

from accounts.models import Membership
from lesions.models import Lesion, LesionImage, Patient


def clinic_ids_of(user, *, admin: bool = False) -> models.QuerySet:
    """The ids of the user's clinics (those they are an admin of, with `admin`); none for a visitor."""
    if not user.is_authenticated:
        return Membership.objects.none().values_list("clinic_id", flat=True)
    return user.clinic_ids(admin=admin)


def is_clinic_member(user) -> bool:
    """A member of any clinic: who registers patients, has a review queue and may receive the photo digest."""
    return clinic_ids_of(user).exists()


def is_clinic_admin(user, clinic_id: int | None = None) -> bool:
    """An admin of the clinic named, or of any clinic when none is."""
    admin_of = clinic_ids_of(user, admin=True)
    return (admin_of if clinic_id is None else admin_of.filter(clinic_id=clinic_id)).exists()


def patients_editable_by(user) -> models.QuerySet:
    return Patient.objects.editable_by(user)


def can_edit_patient(user, patient: Patient) -> bool:
    """Members of the patient's clinic change the record and everything under it (lesions, photos, reviews)."""
    return clinic_ids_of(user).filter(clinic_id=patient.clinic_id).exists()


def can_delete_patient(user, patient: Patient) -> bool:
    return is_clinic_admin(user, patient.clinic_id)


def is_own_record(user, patient: Patient) -> bool:
    return user.is_authenticated and patient.user_id == user.pk


def patients_visible_to(user) -> models.QuerySet:
    return Patient.objects.visible_to(user)


def can_view_patient(user, patient: Patient) -> bool:
    return can_edit_patient(user, patient) or is_own_record(user, patient)


def can_add_photos(user, lesion: Lesion) -> bool:
    """The patient's clinic, and the patient themself for photos taken at home."""
    return can_view_patient(user, lesion.patient)


def can_share(user, lesion: Lesion) -> bool:
    """The patient's clinic and the patient themself share a lesion (and withdraw its shares)."""
    return can_view_patient(user, lesion.patient)


def images_reviewable_by(user) -> models.QuerySet:
    return LesionImage.objects.reviewable_by(user)


def can_review(user, image: LesionImage) -> bool:
    """Clinicians of the patient's clinic review a photo's result, release it and acknowledge its change."""
    return can_edit_patient(user, image.lesion.patient)
