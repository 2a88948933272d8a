"""The Django admin for a staff account of one clinic (the permission matrix's admin rows): every page of a
clinic's data lists that clinic's rows only, and another clinic's record answers as one that does not exist.
Superusers see every clinic's rows.

Who is staff is a superuser's decision (is_staff and model permissions); a clinic admin is not staff by being one
(tests/test_permission_matrix.py::test_the_admin_site_is_for_staff_only)."""

from datetime import date

import pytest
from django.contrib import admin
from django.contrib.auth.models import Permission
from django.test import Client, RequestFactory

from accounts.models import Clinic
from audit.models import AuditEvent
from lesions.models import Lesion, Patient
from lesions.services import confirm_diagnosis
from sharing.models import ShareOpening
from sharing.services import share_lesion
from tests.admin_pages import CLINIC_PAGES, NOT_CLINIC_DATA
from tests.factories import LesionFactory, LesionImageFactory, PatientFactory, PredictionFactory, UserFactory


def clinic_records(clinic: Clinic, clinician) -> dict:
    """One row of every admin page of clinic data, all of one patient of the clinic."""
    patient = PatientFactory(clinic=clinic, user=UserFactory())
    lesion = LesionFactory(patient=patient)
    image = LesionImageFactory(lesion=lesion, uploaded_by=clinician)
    share = share_lesion(lesion=lesion, shared_by=clinician, to="gp@example.org")
    return {
        "accounts.clinic": clinic,
        "accounts.membership": clinician.memberships.get(clinic=clinic),
        "accounts.user": patient.user,
        "lesions.patient": patient,
        "lesions.lesion": lesion,
        "lesions.lesionimage": image,
        "lesions.prediction": PredictionFactory(image=image),
        "lesions.confirmeddiagnosis": confirm_diagnosis(
            lesion=lesion, recorded_by=clinician, dx="nv", dx_type="histo", confirmed_on=date(2026, 1, 5)
        ),
        "sharing.share": share,
        "sharing.shareopening": ShareOpening.objects.create(share=share),
        "audit.auditevent": AuditEvent.objects.create(action="view", clinic_id=clinic.pk, patient_id=patient.pk),
    }


def admin_url(label: str, view: str, pk=None) -> str:
    app, model = label.split(".")
    return f"/admin/{app}/{model}/{pk}/change/" if view == "change" else f"/admin/{app}/{model}/"


@pytest.fixture
def clinics(people):
    """Clinic A's and clinic B's records, and clinic A's admin made staff with every permission of these pages."""
    staff = people.admin_a
    staff.is_staff = True
    staff.save()
    apps = ["accounts", "audit", "lesions", "sharing"]
    staff.user_permissions.set(Permission.objects.filter(content_type__app_label__in=apps))
    return {
        "staff": staff,
        "a": clinic_records(people.clinic_a, people.clinician_a),
        "b": clinic_records(people.clinic_b, people.clinician_b),
    }


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def listed(client: Client, label: str) -> set:
    response = client.get(admin_url(label, "changelist"))
    assert response.status_code == 200, label
    return {row.pk for row in response.context["cl"].result_list}


def test_every_admin_page_of_clinic_data_has_rows_here():
    registered = {model._meta.label_lower for model in admin.site._registry}
    assert registered - NOT_CLINIC_DATA == set(CLINIC_PAGES), "an admin page without a row here"


@pytest.mark.parametrize("label", CLINIC_PAGES)
def test_staff_of_one_clinic_list_and_open_only_its_rows(clinics, label):
    client = signed_in(clinics["staff"])
    mine, theirs = clinics["a"][label], clinics["b"][label]
    rows = listed(client, label)
    assert mine.pk in rows and theirs.pk not in rows
    assert client.get(admin_url(label, "change", mine.pk)).status_code == 200
    # Django's admin answers a record outside the page's rows as one that does not exist: back to the index.
    refused = client.get(admin_url(label, "change", theirs.pk))
    assert (refused.status_code, refused["Location"]) == (302, "/admin/")


@pytest.mark.parametrize("label", CLINIC_PAGES)
def test_superusers_see_every_clinic(clinics, label):
    client = signed_in(UserFactory(is_staff=True, is_superuser=True))
    assert {clinics["a"][label].pk, clinics["b"][label].pk} <= listed(client, label)
    assert client.get(admin_url(label, "change", clinics["b"][label].pk)).status_code == 200


def test_foreign_keys_accept_only_the_staff_members_own_clinic(clinics):
    """A lesion cannot be moved to clinic B's patient, nor a patient to clinic B, by typing an id."""
    request = RequestFactory().get("/admin/")
    request.user = clinics["staff"]
    lesion_form = admin.site._registry[Lesion].get_form(request)()
    patient_form = admin.site._registry[Patient].get_form(request)()
    offered = set(lesion_form.fields["patient"].queryset)
    assert offered == set(Patient.objects.filter(clinic=clinics["a"]["accounts.clinic"]))
    assert clinics["a"]["lesions.patient"] in offered and clinics["b"]["lesions.patient"] not in offered
    assert list(patient_form.fields["clinic"].queryset) == [clinics["a"]["accounts.clinic"]]


def test_staff_of_a_clinic_cannot_grant_staff_or_superuser(clinics):
    client = signed_in(clinics["staff"])
    page = client.get(admin_url("accounts.user", "change", clinics["staff"].pk))
    fields = page.context["adminform"].form.fields
    assert page.status_code == 200
    assert {"is_staff", "is_superuser", "groups", "user_permissions"}.isdisjoint(fields)
    assert (
        "is_superuser"
        in signed_in(UserFactory(is_staff=True, is_superuser=True))
        .get(admin_url("accounts.user", "change", clinics["staff"].pk))
        .context["adminform"]
        .form.fields
    )


def test_autocomplete_offers_staff_only_their_clinics(clinics):
    """The clinic picker of a membership searches the clinic page's rows, which are the staff member's own."""
    query = {"app_label": "accounts", "model_name": "membership", "field_name": "clinic", "term": "Clinic"}
    answer = signed_in(clinics["staff"]).get("/admin/autocomplete/", query)
    assert answer.status_code == 200
    assert [row["id"] for row in answer.json()["results"]] == [str(clinics["a"]["accounts.clinic"].pk)]
