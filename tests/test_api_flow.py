"""The REST flow a new integrator follows, end to end, with real token authentication."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from lesions.models import LesionImage
from tests.conftest import api_client
from tests.factories import PASSWORD
from tests.images import jpeg_bytes


def upload(client, lesion_id, *, content=None, name="photo.jpg", **fields):
    image = SimpleUploadedFile(name, content if content is not None else jpeg_bytes(), content_type="image/jpeg")
    return client.post(f"/api/lesions/{lesion_id}/images/", {"image": image, **fields}, format="multipart")


def test_token_then_patient_lesion_upload_and_timeline(people):
    client = api_client()
    answer = client.post("/api/auth/token/", {"username": people.clinician_a.username, "password": PASSWORD})
    assert answer.status_code == 200
    client.credentials(HTTP_AUTHORIZATION=f"Token {answer.json()['token']}")

    patient = client.post(
        "/api/patients/",
        {"medical_record_number": "A-100", "first_name": "Maria", "last_name": "Silva", "date_of_birth": "1970-04-02"},
    )
    assert patient.status_code == 201, patient.content
    assert patient.json()["clinic"] == people.clinic_a.pk

    lesion = client.post(
        "/api/lesions/", {"patient": patient.json()["id"], "body_site": "back", "label": "left shoulder"}
    )
    assert lesion.status_code == 201, lesion.content
    lesion_id = lesion.json()["id"]

    later = upload(client, lesion_id, captured_at="2026-06-01T10:00:00Z", modality="clinical")
    earlier = upload(client, lesion_id, captured_at="2025-12-01T10:00:00Z")
    assert later.status_code == 201, later.content
    assert earlier.status_code == 201
    image = client.get(f"/api/images/{later.json()['id']}/").json()
    assert image["status"] == "queued"
    assert image["prediction"] is None
    assert image["modality"] == "clinical"
    assert (image["width"], image["height"]) == (200, 150)
    assert image["error"] == ""

    timeline = client.get(f"/api/lesions/{lesion_id}/timeline/").json()
    assert [entry["id"] for entry in timeline["images"]] == [earlier.json()["id"], later.json()["id"]]

    listed = client.get("/api/lesions/", {"patient": patient.json()["id"]}).json()
    assert listed["count"] == 1 and set(listed) == {"count", "next", "previous", "results"}

    file = client.get(image["image_url"])
    assert file.status_code == 200
    assert file["Content-Type"] == "image/jpeg"
    assert b"".join(file.streaming_content)[:2] == b"\xff\xd8"


def test_wrong_password_gets_no_token(people):
    answer = api_client().post("/api/auth/token/", {"username": people.clinician_a.username, "password": "nope"})
    assert answer.status_code == 400
    assert "token" not in answer.json()


def test_record_number_is_unique_within_a_clinic_only(people):
    taken = people.patient_a.medical_record_number
    same_clinic = api_client(people.clinician_a).post(
        "/api/patients/", {"medical_record_number": taken, "first_name": "X", "last_name": "Y"}
    )
    assert same_clinic.status_code == 400
    assert "record number" in same_clinic.json()["medical_record_number"][0]
    other_clinic = api_client(people.clinician_b).post(
        "/api/patients/", {"medical_record_number": taken, "first_name": "X", "last_name": "Y"}
    )
    assert other_clinic.status_code == 201


def test_upload_defaults_to_now_and_dermoscopic(people):
    answer = upload(api_client(people.clinician_a), people.lesion_a.pk)
    assert answer.status_code == 201
    image = LesionImage.objects.get(pk=answer.json()["id"])
    assert image.modality == "dermoscopic"
    assert image.uploaded_by == people.clinician_a
    assert abs((image.created_at - image.captured_at).total_seconds()) < 60


def test_lesion_cannot_move_to_another_patient(people):
    answer = api_client(people.clinician_a).patch(
        f"/api/lesions/{people.lesion_a.pk}/", {"patient": people.patient_b.pk}
    )
    assert answer.status_code == 400
    people.lesion_a.refresh_from_db()
    assert people.lesion_a.patient == people.patient_a


def test_schema_and_docs_are_served(people):
    client = api_client(people.clinician_a)
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/json")
    assert schema.status_code == 200
    paths = schema.json()["paths"]
    for path in ("/api/patients/", "/api/lesions/{id}/images/", "/api/images/{id}/", "/api/lesions/{id}/timeline/"):
        assert path in paths
    assert client.get("/api/docs/").status_code == 200


@pytest.mark.parametrize("clinic", ["abc", {"x": 1}, [1], 10**30])
def test_a_malformed_clinic_id_is_a_clear_400(people, clinic):
    answer = api_client(people.clinician_a).post(
        "/api/patients/",
        {"medical_record_number": "Z-1", "first_name": "Ana", "last_name": "Lima", "clinic": clinic},
        format="json",
    )
    assert answer.status_code == 400
    assert "clinic" in answer.json()


def test_a_clinician_cannot_name_another_clinic_for_a_new_patient(people):
    answer = api_client(people.clinician_a).post(
        "/api/patients/",
        {"medical_record_number": "Z-2", "first_name": "Ana", "last_name": "Lima", "clinic": people.clinic_b.pk},
        format="json",
    )
    assert answer.status_code == 403
