"""The audit trail: who did what to which patient's data, when and from where; append-only; read by clinic admins."""

import pytest
from django.core.exceptions import PermissionDenied
from django.db import DatabaseError, connection, transaction

from accounts.models import Membership
from audit.models import AuditEvent
from sharing.links import share_token
from sharing.services import share_lesion
from tests.conftest import api_client
from tests.factories import PASSWORD, LesionImageFactory, PatientFactory, UserFactory


@pytest.fixture
def image_a(people):
    return LesionImageFactory(lesion=people.lesion_a, uploaded_by=people.clinician_a)


def test_api_reads_changes_and_downloads_are_recorded(people, image_a):
    client = api_client(people.clinician_a)
    client.get(f"/api/patients/{people.patient_a.pk}/", REMOTE_ADDR="10.1.2.3", HTTP_USER_AGENT="ClinicPC")
    client.patch(f"/api/lesions/{people.lesion_a.pk}/", {"label": "renamed"})
    client.get(f"/api/images/{image_a.pk}/file/")
    events = list(AuditEvent.objects.order_by("id"))
    assert [(event.action, event.target) for event in events] == [
        ("view", f"patient {people.patient_a.pk}"),
        ("change", f"lesion {people.lesion_a.pk}"),
        ("download", f"lesion image {image_a.pk}"),
    ]
    assert {event.patient_id for event in events} == {people.patient_a.pk}
    assert {event.clinic_id for event in events} == {people.clinic_a.pk}
    assert events[0].actor == people.clinician_a
    assert (events[0].ip_address, events[0].user_agent, events[0].status_code) == ("10.1.2.3", "ClinicPC", 200)


def test_refused_attempts_are_recorded_too(people, image_a):
    api_client(people.clinician_b).get(f"/api/images/{image_a.pk}/file/")
    event = AuditEvent.objects.get()
    assert (event.actor, event.status_code, event.patient_id) == (people.clinician_b, 404, None)


def test_sign_ins_are_recorded(people, client):
    client.post("/accounts/login/", {"username": people.clinician_a.username, "password": "wrong"})
    client.post("/accounts/login/", {"username": people.clinician_a.username, "password": PASSWORD})
    api_client().post("/api/auth/token/", {"username": people.clinician_b.username, "password": PASSWORD})
    assert list(AuditEvent.objects.order_by("id").values_list("action", "actor_username")) == [
        ("login_failed", people.clinician_a.username),
        ("login", people.clinician_a.username),
        ("login", people.clinician_b.username),
    ]


def test_deleting_a_patient_is_recorded_with_who_it_was(people):
    patient_pk = people.patient_a.pk
    api_client(people.admin_a).delete(f"/api/patients/{patient_pk}/")
    event = AuditEvent.objects.get(action="delete")
    assert (event.target, event.patient_id, event.actor) == (f"patient {patient_pk}", patient_pk, people.admin_a)


def test_the_trail_is_append_only(people):
    api_client(people.clinician_a).get("/api/patients/")
    event = AuditEvent.objects.get()
    event.action = "delete"
    with pytest.raises(PermissionDenied):
        event.save()
    with pytest.raises(PermissionDenied):
        event.delete()
    with pytest.raises(PermissionDenied):
        AuditEvent.objects.all().delete()
    if connection.vendor == "postgresql":
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("UPDATE audit_auditevent SET action = 'delete'")


def test_clinic_admin_reads_and_filters_their_clinic_only(people, image_a):
    api_client(people.clinician_a).get(f"/api/patients/{people.patient_a.pk}/")
    api_client(people.clinician_b).get("/api/patients/")
    admin = api_client(people.admin_a)
    events = admin.get("/api/audit/", {"patient_id": people.patient_a.pk}).json()
    assert events["count"] == 1
    assert events["results"][0]["actor_username"] == people.clinician_a.username
    everything = admin.get("/api/audit/").json()["results"]
    assert people.clinician_b.username not in {event["actor_username"] for event in everything}
    assert api_client(people.clinician_a).get("/api/audit/").status_code == 403
    assert api_client(people.patient_a_user).get("/api/audit/").status_code == 403


def test_a_share_link_opening_is_recorded_without_its_live_token(people, image_a, client):
    share = share_lesion(lesion=people.lesion_a, shared_by=people.clinician_a, to="gp@example.org")
    token = share_token(share)
    assert client.get(f"/s/{token}/").status_code == 200
    event = AuditEvent.objects.get(action="open_share")
    assert (event.actor, event.patient_id, event.status_code) == (None, people.patient_a.pk, 200)
    assert event.path == "/s/[token]/"
    assert not AuditEvent.objects.filter(path__contains=token).exists()


def test_time_filters_refuse_offsets_no_time_zone_has(people):
    answer = api_client(people.admin_a).get("/api/audit/", {"until": "2026-01-01T00:00:00+21:08"})
    assert answer.status_code == 400
    assert "UTC offset" in answer.json()["until"][0]
    assert api_client(people.admin_a).get("/api/audit/", {"until": "2026-01-01T00:00:00+05:30"}).status_code == 200


def listed_patients(event: AuditEvent) -> set[int]:
    return set(event.patients.values_list("patient_id", flat=True))


def test_the_dashboard_and_its_search_are_recorded_with_every_patient_they_showed(people, client):
    people.patient_a.last_name = "Okafor"
    people.patient_a.save()
    people.patient_b.last_name = "Lindqvist"
    people.patient_b.save()
    client.force_login(people.clinician_a)
    assert client.get("/").status_code == 200
    assert client.get("/", {"q": "okaf"}).status_code == 200
    dashboard, search = AuditEvent.objects.filter(action="view").order_by("id")
    assert (dashboard.target, dashboard.clinic_id) == ("dashboard", people.clinic_a.pk)
    assert dashboard.actor == people.clinician_a
    assert listed_patients(dashboard) == {people.patient_a.pk, people.patient_b.pk}
    assert (search.target, search.path) == ("patient search", "/?q=okaf")
    assert listed_patients(search) == {people.patient_a.pk}


def test_the_shares_page_is_recorded_with_the_patients_it_showed(people, client):
    share_lesion(lesion=people.lesion_b, shared_by=people.clinician_a, to="gp@example.org")
    client.force_login(people.clinician_a)
    assert "gp@example.org" in client.get("/shares/").content.decode()
    event = AuditEvent.objects.get(target="share list")
    assert (event.clinic_id, listed_patients(event)) == (people.clinic_a.pk, {people.patient_b.pk})


def test_api_list_reads_name_every_patient_and_the_admin_finds_them_by_patient(people, image_a):
    client = api_client(people.clinician_a)
    for path in ("/api/patients/", "/api/lesions/", "/api/images/", "/api/shares/"):
        assert client.get(path).status_code == 200
    patients, lesions, images, shares = AuditEvent.objects.order_by("id")
    assert (patients.target, listed_patients(patients)) == ("patient list", {people.patient_a.pk, people.patient_b.pk})
    assert listed_patients(lesions) == {people.patient_a.pk, people.patient_b.pk}
    assert (images.target, listed_patients(images)) == ("lesion image list", {people.patient_a.pk})
    assert listed_patients(shares) == set()
    found = api_client(people.admin_a).get("/api/audit/", {"patient_id": people.patient_b.pk}).json()
    assert [event["id"] for event in found["results"]] == [lesions.pk, patients.pk]
    assert set(found["results"][1]["patient_ids"]) == {people.patient_a.pk, people.patient_b.pk}
    assert api_client(people.admin_a).get("/api/audit/", {"patient_id": "1.5"}).status_code == 400


def test_a_list_spanning_two_clinics_is_recorded_once_per_clinic(people):
    Membership.objects.create(user=people.clinician_b, clinic=people.clinic_a)
    patient_of_b = PatientFactory(clinic=people.clinic_b)
    assert api_client(people.clinician_b).get("/api/patients/").json()["count"] == 3
    by_clinic = {event.clinic_id: listed_patients(event) for event in AuditEvent.objects.all()}
    assert by_clinic == {
        people.clinic_a.pk: {people.patient_a.pk, people.patient_b.pk},
        people.clinic_b.pk: {patient_of_b.pk},
    }
    # Clinic A's admin reads clinic A's part of the read, never which of clinic B's patients were shown.
    [seen] = api_client(people.admin_a).get("/api/audit/").json()["results"]
    assert set(seen["patient_ids"]) == {people.patient_a.pk, people.patient_b.pk}
    assert api_client(people.admin_a).get("/api/audit/", {"patient_id": patient_of_b.pk}).json()["count"] == 0


def test_failed_sign_ins_are_recorded_under_the_targeted_accounts_clinic(people, client):
    accounts = (people.clinician_a, people.patient_a_user, people.clinician_b)
    for username in [*(account.username for account in accounts), "nobody"]:
        client.post("/accounts/login/", {"username": username, "password": "wrong"})
    failed = {event.actor_username: event for event in AuditEvent.objects.filter(action="login_failed")}
    assert failed[people.clinician_a.username].clinic_id == people.clinic_a.pk
    assert (failed[people.patient_a_user.username].clinic_id, failed[people.patient_a_user.username].patient_id) == (
        people.clinic_a.pk,
        people.patient_a.pk,
    )
    assert failed[people.clinician_b.username].clinic_id == people.clinic_b.pk
    assert failed["nobody"].clinic_id is None
    seen = api_client(people.admin_a).get("/api/audit/", {"action": "login_failed"}).json()["results"]
    assert {event["actor_username"] for event in seen} == {people.clinician_a.username, people.patient_a_user.username}


def test_the_patients_of_a_list_read_are_append_only_too(people):
    api_client(people.clinician_a).get("/api/patients/")
    listed = AuditEvent.objects.get().patients.first()
    with pytest.raises(PermissionDenied):
        listed.save()
    with pytest.raises(PermissionDenied):
        listed.delete()
    with pytest.raises(PermissionDenied):
        listed.event.patients.all().delete()
    if connection.vendor == "postgresql":
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("DELETE FROM audit_auditeventpatient")


def test_admin_pages_of_patient_data_are_recorded_with_their_patients(people, client):
    share = share_lesion(lesion=people.lesion_b, shared_by=people.clinician_a, to="gp@example.org")
    client.get(f"/s/{share_token(share)}/")
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    lesion_page = f"/admin/lesions/lesion/{people.lesion_a.pk}/change/"
    for path in ("/admin/lesions/patient/", "/admin/sharing/shareopening/", lesion_page):
        assert client.get(path).status_code == 200, path
    patients, openings, lesion = AuditEvent.objects.filter(action="view").order_by("id")
    assert (patients.target, patients.clinic_id) == ("admin patient list", people.clinic_a.pk)
    assert listed_patients(patients) == {people.patient_a.pk, people.patient_b.pk}
    assert (openings.target, listed_patients(openings)) == ("admin share opening list", {people.patient_b.pk})
    assert (lesion.action, lesion.target) == ("view", f"lesion {people.lesion_a.pk}")
    assert lesion.patient_id == people.patient_a.pk
