"""lesions.access: each rule's form for one object agrees with its queryset form, for every kind of user."""

import pytest
from django.contrib.auth.models import AnonymousUser

from lesions import access
from tests.factories import LesionImageFactory, PatientFactory


@pytest.fixture
def cast(people):
    users = {
        "anonymous": AnonymousUser(),
        "patient_a": people.patient_a_user,
        "clinician_a": people.clinician_a,
        "admin_a": people.admin_a,
        "clinician_b": people.clinician_b,
    }
    patients = [people.patient_a, people.patient_b, PatientFactory(clinic=people.clinic_b)]
    images = [
        LesionImageFactory(lesion=people.lesion_a, uploaded_by=people.clinician_a),
        LesionImageFactory(lesion=people.lesion_b, uploaded_by=people.clinician_a),
    ]
    return users, patients, images


def test_object_and_queryset_forms_agree(cast):
    users, patients, images = cast
    for role, user in users.items():
        editable, visible = set(access.patients_editable_by(user)), set(access.patients_visible_to(user))
        reviewable = set(access.images_reviewable_by(user))
        for patient in patients:
            assert access.can_edit_patient(user, patient) == (patient in editable), (role, patient)
            assert access.can_view_patient(user, patient) == (patient in visible), (role, patient)
        for image in images:
            assert access.can_review(user, image) == (image in reviewable), (role, image)


def test_who_may_do_what_to_patient_a(cast, people):
    users, _, images = cast
    patient, lesion = people.patient_a, people.lesion_a
    rules = {
        "edit": lambda user: access.can_edit_patient(user, patient),
        "delete": lambda user: access.can_delete_patient(user, patient),
        "add photos": lambda user: access.can_add_photos(user, lesion),
        "share": lambda user: access.can_share(user, lesion),
        "review": lambda user: access.can_review(user, images[0]),
    }
    allowed = {name: {role for role, user in users.items() if rule(user)} for name, rule in rules.items()}
    assert allowed == {
        "edit": {"clinician_a", "admin_a"},
        "delete": {"admin_a"},
        "add photos": {"patient_a", "clinician_a", "admin_a"},
        "share": {"patient_a", "clinician_a", "admin_a"},
        "review": {"clinician_a", "admin_a"},
    }
    assert {role for role, user in users.items() if access.is_clinic_member(user)} == {
        "clinician_a",
        "admin_a",
        "clinician_b",
    }
