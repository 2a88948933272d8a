"""Each permission proved both ways with the shared cast (see People in conftest)."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from lesions.models import LesionImage, Patient
from tests.conftest import api_client, stored_files
from tests.factories import LesionImageFactory
from tests.images import jpeg_bytes


@pytest.fixture
def image_a(people):
    return LesionImageFactory(lesion=people.lesion_a, uploaded_by=people.clinician_a)


def object_urls(people, image):
    return [
        f"/api/patients/{people.patient_a.pk}/",
        f"/api/lesions/{people.lesion_a.pk}/",
        f"/api/lesions/{people.lesion_a.pk}/timeline/",
        f"/api/images/{image.pk}/",
        f"/api/images/{image.pk}/file/",
        f"/api/images/{image.pk}/thumbnail/",
    ]


def test_clinic_a_sees_its_objects_and_clinic_b_gets_404(people, image_a):
    for url in object_urls(people, image_a):
        assert api_client(people.clinician_a).get(url).status_code == 200, url
        assert api_client(people.admin_a).get(url).status_code == 200, url
        assert api_client(people.clinician_b).get(url).status_code == 404, url


def test_anonymous_gets_401_everywhere(people, image_a):
    for url in [*object_urls(people, image_a), "/api/patients/", "/api/lesions/", "/api/images/", "/api/models/"]:
        assert api_client().get(url).status_code == 401, url


def test_patient_sees_only_their_own_record(people, image_a):
    own = api_client(people.patient_a_user)
    for url in object_urls(people, image_a):
        assert own.get(url).status_code == 200, url
    other = api_client(people.patient_b_user)
    for url in object_urls(people, image_a):
        assert other.get(url).status_code == 404, url
    assert [p["id"] for p in other.get("/api/patients/").json()["results"]] == [people.patient_b.pk]
    assert [lesion["id"] for lesion in other.get("/api/lesions/").json()["results"]] == [people.lesion_b.pk]
    assert other.get("/api/images/").json()["count"] == 0


def test_lists_hold_only_the_clinics_own_patients(people):
    assert api_client(people.clinician_b).get("/api/patients/").json()["count"] == 0
    ids = {p["id"] for p in api_client(people.clinician_a).get("/api/patients/").json()["results"]}
    assert ids == {people.patient_a.pk, people.patient_b.pk}


def test_clinic_b_cannot_change_upload_to_or_delete_clinic_a_objects(people, image_a, isolated_media):
    client = api_client(people.clinician_b)
    files_before = stored_files(isolated_media)
    assert client.patch(f"/api/patients/{people.patient_a.pk}/", {"first_name": "X"}).status_code == 404
    assert client.delete(f"/api/patients/{people.patient_a.pk}/").status_code == 404
    assert client.patch(f"/api/lesions/{people.lesion_a.pk}/", {"label": "X"}).status_code == 404
    upload = SimpleUploadedFile("x.jpg", jpeg_bytes(), content_type="image/jpeg")
    assert client.post(f"/api/lesions/{people.lesion_a.pk}/images/", {"image": upload}).status_code == 404
    lesion = client.post("/api/lesions/", {"patient": people.patient_a.pk, "body_site": "back"})
    assert lesion.status_code == 400
    assert LesionImage.objects.count() == 1
    assert stored_files(isolated_media) == files_before
    people.patient_a.refresh_from_db()
    assert people.patient_a.first_name != "X"


def test_clinician_edits_but_only_clinic_admin_deletes(people, image_a, isolated_media):
    url = f"/api/patients/{people.patient_a.pk}/"
    assert api_client(people.clinician_a).patch(url, {"family_physician_email": "new@example.org"}).status_code == 200
    assert api_client(people.clinician_a).delete(url).status_code == 403
    assert stored_files(isolated_media)
    assert api_client(people.admin_a).delete(url).status_code == 204
    assert not Patient.objects.filter(pk=people.patient_a.pk).exists()
    assert not LesionImage.objects.filter(pk=image_a.pk).exists()


@pytest.mark.django_db(transaction=True)
def test_deleting_a_patient_removes_their_image_files(isolated_media):
    from tests.conftest import People

    people = People()
    LesionImageFactory(lesion=people.lesion_a, uploaded_by=people.clinician_a)
    assert len(stored_files(isolated_media)) == 2
    assert api_client(people.admin_a).delete(f"/api/patients/{people.patient_a.pk}/").status_code == 204
    assert stored_files(isolated_media) == []


def test_patient_cannot_write(people):
    client = api_client(people.patient_a_user)
    assert (
        client.post("/api/patients/", {"medical_record_number": "Z", "first_name": "Z", "last_name": "Z"}).status_code
        == 403
    )
    assert client.patch(f"/api/patients/{people.patient_a.pk}/", {"first_name": "Q"}).status_code == 403
    assert client.patch(f"/api/lesions/{people.lesion_a.pk}/", {"label": "Q"}).status_code == 403
    assert client.post("/api/lesions/", {"patient": people.patient_a.pk, "body_site": "back"}).status_code == 403
    # A patient may add a photo taken at home to their own lesion (tests/test_portal.py), never to another's.
    upload = SimpleUploadedFile("x.jpg", jpeg_bytes(), content_type="image/jpeg")
    assert client.post(f"/api/lesions/{people.lesion_b.pk}/images/", {"image": upload}).status_code == 404


def test_media_has_no_public_url(people, image_a, client):
    assert client.get(f"/media/{image_a.image.name}").status_code == 404
    client.force_login(people.clinician_b)
    assert client.get(f"/api/images/{image_a.pk}/file/").status_code == 404
    client.force_login(people.clinician_a)
    assert client.get(f"/api/images/{image_a.pk}/file/").status_code == 200
