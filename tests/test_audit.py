"""The audit trail: who did what to which patient's data, when and from where; append-only; read by clinic admins."""

import pytest
from django.core.exceptions import PermissionDenied
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import DatabaseError, connection, transaction

from audit.models import AuditEvent
from lesions.services import add_lesion_image
from sharing.links import share_token
from sharing.services import share_lesion
from tests.conftest import api_client
from tests.factories import PASSWORD
from tests.images import jpeg_bytes


@pytest.fixture
def image_a(people):
    upload = SimpleUploadedFile("a.jpg", jpeg_bytes(), content_type="image/jpeg")
    return add_lesion_image(lesion=people.lesion_a, upload=upload, uploaded_by=people.clinician_a)


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
