"""Dates and numbers an attacker supplies: every date a person or a photo gives is bounded (1900 to tomorrow) with
a clear 400, a date stored before the bounds existed breaks no page, and a filter id too large for the database
answers 400 or nothing, never 500."""

from datetime import UTC, datetime, timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import timezone
from PIL import Image

from lesions.models import ConfirmedDiagnosis, Lesion, LesionImage, Patient
from portal.reminders import send_due_reminders
from tests.conftest import api_client, stored_files
from tests.factories import LesionFactory, LesionImageFactory, PatientFactory, UserFactory
from tests.images import encode, jpeg_bytes, lesion_photo

END_OF_CALENDAR = "9999-12-31T23:59:59Z"
IMPLAUSIBLE_MOMENTS = {
    "end of the calendar": (END_OF_CALENDAR, "in the future"),
    "next week": ((timezone.now() + timedelta(days=7)).isoformat(), "in the future"),
    "before 1900": ("1899-12-31T12:00:00Z", "before 1900"),
    "year one": ("0001-01-01T00:00:00Z", "before 1900"),
}
IMPLAUSIBLE_DATES = {
    "end of the calendar": ("9999-12-31", "in the future"),
    "next week": ((timezone.now() + timedelta(days=7)).date().isoformat(), "in the future"),
    "before 1900": ("1899-12-31", "before 1900"),
}


def photo(content: bytes | None = None) -> SimpleUploadedFile:
    return SimpleUploadedFile("lesion.jpg", content or jpeg_bytes(), content_type="image/jpeg")


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.mark.parametrize("case", IMPLAUSIBLE_MOMENTS)
def test_an_implausible_capture_date_is_refused_by_the_api_and_stores_nothing(people, isolated_media, case):
    value, words = IMPLAUSIBLE_MOMENTS[case]
    answer = api_client(people.patient_a_user).post(
        f"/api/lesions/{people.lesion_a.pk}/images/", {"image": photo(), "captured_at": value}
    )
    assert answer.status_code == 400
    assert words in " ".join(answer.json()["captured_at"])
    assert LesionImage.objects.count() == 0
    assert stored_files(isolated_media) == []


@pytest.mark.parametrize("case", IMPLAUSIBLE_MOMENTS)
def test_an_implausible_capture_date_is_refused_by_the_upload_form(people, isolated_media, case):
    value, words = IMPLAUSIBLE_MOMENTS[case]
    answer = signed_in(people.clinician_a).post(
        f"/lesions/{people.lesion_a.pk}/photos/",
        {"image": photo(), "modality": "dermoscopic", "captured_at": value[:16].replace("Z", "")},
    )
    assert answer.status_code == 400
    assert words in answer.content.decode()
    assert LesionImage.objects.count() == 0
    assert stored_files(isolated_media) == []


def test_a_capture_date_within_the_clock_skew_is_accepted(people):
    soon = (timezone.now() + timedelta(hours=2)).isoformat()
    answer = api_client(people.clinician_a).post(
        f"/api/lesions/{people.lesion_a.pk}/images/", {"image": photo(), "captured_at": soon}
    )
    assert answer.status_code == 201


def jpeg_taken_at(stamp: str) -> bytes:
    exif = Image.Exif()
    exif.get_ifd(0x8769)[0x9003] = stamp  # DateTimeOriginal
    return encode(lesion_photo(), "JPEG", exif=exif)


@pytest.mark.parametrize("stamp", ["9999:12:31 23:59:59", "1850:01:01 00:00:00", "2999:01:01 00:00:00"])
def test_an_implausible_exif_date_falls_back_to_the_upload_time(people, stamp):
    before = timezone.now()
    answer = api_client(people.patient_a_user).post(
        f"/api/lesions/{people.lesion_a.pk}/images/", {"image": photo(jpeg_taken_at(stamp))}
    )
    assert answer.status_code == 201
    captured = LesionImage.objects.get().captured_at
    assert before <= captured <= timezone.now()


def test_a_plausible_exif_date_is_kept(people):
    api_client(people.clinician_a).post(
        f"/api/lesions/{people.lesion_a.pk}/images/", {"image": photo(jpeg_taken_at("2024:05:06 07:08:09"))}
    )
    assert timezone.localtime(LesionImage.objects.get().captured_at).strftime("%Y-%m-%d %H:%M:%S") == (
        "2024-05-06 07:08:09"
    )


@pytest.mark.parametrize("case", IMPLAUSIBLE_DATES)
def test_implausible_birth_and_diagnosis_dates_are_refused_by_the_api(people, case):
    value, words = IMPLAUSIBLE_DATES[case]
    client = api_client(people.clinician_a)
    created = client.post(
        "/api/patients/",
        {"medical_record_number": "MRN-NEW", "first_name": "A", "last_name": "B", "date_of_birth": value},
        format="json",
    )
    assert created.status_code == 400 and words in " ".join(created.json()["date_of_birth"])
    changed = client.patch(f"/api/patients/{people.patient_a.pk}/", {"date_of_birth": value}, format="json")
    assert changed.status_code == 400 and words in " ".join(changed.json()["date_of_birth"])
    diagnosis = client.post(
        f"/api/lesions/{people.lesion_a.pk}/diagnosis/",
        {"dx": "nv", "dx_type": "histo", "confirmed_on": value},
        format="json",
    )
    assert diagnosis.status_code == 400 and words in " ".join(diagnosis.json()["confirmed_on"])
    assert not Patient.objects.filter(medical_record_number="MRN-NEW").exists()
    assert not ConfirmedDiagnosis.objects.exists()
    people.patient_a.refresh_from_db()
    assert people.patient_a.date_of_birth is None or people.patient_a.date_of_birth.year < 2026


@pytest.mark.parametrize("case", IMPLAUSIBLE_DATES)
def test_implausible_birth_and_diagnosis_dates_are_refused_by_the_page_forms(people, case):
    value, words = IMPLAUSIBLE_DATES[case]
    client = signed_in(people.clinician_a)
    created = client.post(
        "/patients/new/",
        {
            "medical_record_number": "MRN-NEW",
            "first_name": "A",
            "last_name": "B",
            "date_of_birth": value,
            "sex": "female",
        },
    )
    assert created.status_code == 400 and words in created.content.decode()
    diagnosis = client.post(
        f"/lesions/{people.lesion_a.pk}/diagnosis/", {"dx": "nv", "dx_type": "histo", "confirmed_on": value}
    )
    assert diagnosis.status_code == 400 and words in diagnosis.content.decode()
    assert not Patient.objects.filter(medical_record_number="MRN-NEW").exists()
    assert not ConfirmedDiagnosis.objects.exists()


def store_photo_dated(lesion: Lesion, user, moment: datetime) -> None:
    """A photo dated as one could be before dates were bounded: written past today's validation."""
    image = LesionImageFactory(lesion=lesion, uploaded_by=user, captured_at=timezone.now() - timedelta(days=1))
    LesionImage.objects.filter(pk=image.pk).update(captured_at=moment)


def test_a_stored_photo_at_the_end_of_the_calendar_breaks_no_page_and_no_reminder(people):
    store_photo_dated(people.lesion_a, people.clinician_a, datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC))
    Lesion.objects.filter(pk=people.lesion_a.pk).update(follow_up_interval=6, follow_up_unit="months")
    # Another clinic's patient is due for a reminder: the bad date elsewhere must not stop theirs.
    other_patient = PatientFactory(clinic=people.clinic_b, user=UserFactory())
    due = LesionFactory(patient=other_patient, follow_up_interval=1, follow_up_unit="months")
    LesionImageFactory(lesion=due, uploaded_by=people.clinician_b, captured_at=timezone.now() - timedelta(days=60))

    for url in ("/", f"/lesions/{people.lesion_a.pk}/", f"/patients/{people.patient_a.pk}/"):
        assert signed_in(people.clinician_a).get(url).status_code == 200, url
    client = api_client(people.clinician_a)
    listed = client.get("/api/lesions/")
    assert listed.status_code == 200
    detail = client.get(f"/api/lesions/{people.lesion_a.pk}/")
    assert detail.status_code == 200 and detail.json()["follow_up_due_at"].startswith("9999-12-31")
    assert client.get(f"/api/lesions/{people.lesion_a.pk}/timeline/").status_code == 200
    assert send_due_reminders() == 1


def test_a_huge_lesion_id_in_the_share_list_filter_answers_without_error(people):
    client = signed_in(people.clinician_a)
    for value in ("99999999999999999999999", "-5", "²", "1e3"):
        answer = client.get("/shares/", {"lesion": value})
        assert answer.status_code == 400, value
    assert client.get("/shares/", {"lesion": people.lesion_a.pk}).status_code == 200


@pytest.mark.parametrize(
    "url",
    [
        "/api/shares/?lesion={}",
        "/api/lesions/?patient={}",
        "/api/images/?lesion={}",
        "/api/audit/?actor={}",
        "/api/audit/?patient_id={}",
        "/api/patients/{}/",
        "/api/lesions/{}/timeline/",
    ],
)
@pytest.mark.parametrize("value", ["99999999999999999999999", "-99999999999999999999999", str(2**63)])
def test_a_huge_integer_in_an_api_filter_or_path_answers_400_404_or_nothing(people, url, value):
    answer = api_client(people.admin_a).get(url.format(value))
    assert answer.status_code in (200, 400, 404)
    if answer.status_code == 200:
        assert answer.json()["results"] == []
