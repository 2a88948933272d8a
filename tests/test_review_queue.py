"""The clinic's review queue: new photos (from the clinic or from patients at home) and flagged changes wait, oldest
first, until a clinician reviews or acknowledges them; the dashboard counts them."""

from datetime import timedelta

from django.test import Client
from django.utils import timezone

from lesions import pipeline
from lesions.models import ChangeAcknowledgement, LesionImage
from tests.conftest import api_client
from tests.factories import LesionImageFactory, followed_lesion


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def queue_ids(user) -> list[int]:
    answer = api_client(user).get("/api/images/review-queue/")
    assert answer.status_code == 200, answer.content
    return [image["id"] for image in answer.json()["results"]]


def arrived(image: LesionImage, days_ago: int) -> LesionImage:
    LesionImage.objects.filter(pk=image.pk).update(created_at=timezone.now() - timedelta(days=days_ago))
    return image


def test_new_photos_wait_oldest_first_for_the_patients_clinic_only(people):
    clinic_photo = arrived(
        LesionImageFactory(lesion=people.lesion_b, uploaded_by=people.clinician_a, captured_at=timezone.now()), 1
    )
    home_photo = arrived(
        LesionImageFactory(lesion=people.lesion_a, uploaded_by=people.patient_a_user, captured_at=timezone.now()), 3
    )
    assert queue_ids(people.clinician_a) == [home_photo.pk, clinic_photo.pk]
    assert queue_ids(people.admin_a) == [home_photo.pk, clinic_photo.pk]
    assert queue_ids(people.clinician_b) == []
    assert api_client(people.patient_a_user).get("/api/images/review-queue/").status_code == 403

    page = signed_in(people.clinician_a).get("/review/")
    content = page.content.decode()
    assert page.status_code == 200
    assert content.index(f'id="queue-{home_photo.pk}"') < content.index(f'id="queue-{clinic_photo.pk}"')
    assert "New photo from the patient at home" in content and "New photo from the clinic" in content
    assert "2 photos to review" in content
    assert signed_in(people.clinician_b).get("/review/").context["images"] == []
    assert signed_in(people.patient_a_user).get("/review/").status_code == 403

    dashboard = signed_in(people.clinician_a).get("/").content.decode()
    assert "<strong>2</strong> photos to review" in dashboard and "<strong>0</strong> flagged changes" in dashboard


def test_reviewing_from_the_queue_takes_the_photo_off_and_returns_to_the_queue(people):
    before, after = followed_lesion(people.lesion_a, people.clinician_a)
    assert queue_ids(people.clinician_a) == [before.pk, after.pk]
    reviewed = signed_in(people.clinician_a).post(
        f"/photos/{before.pk}/review/",
        {f"review-{before.pk}-disposition": "routine", "next": "/review/"},
    )
    assert reviewed.status_code == 302 and reviewed["Location"] == "/review/"
    assert queue_ids(people.clinician_a) == [after.pk]
    # A `next` that leaves the site is not followed.
    elsewhere = signed_in(people.clinician_a).post(
        f"/photos/{after.pk}/review/",
        {f"review-{after.pk}-disposition": "see_in_clinic", "next": "https://elsewhere.example/"},
    )
    assert elsewhere["Location"] == f"/lesions/{people.lesion_a.pk}/"
    # The later photo's change was flagged when it was reviewed: the review acknowledges it too.
    assert queue_ids(people.clinician_a) == []
    assert ChangeAcknowledgement.objects.get(image=after).acknowledged_by == people.clinician_a


def test_a_change_flagged_after_review_waits_until_acknowledged(people):
    before, after = followed_lesion(people.lesion_a, people.clinician_a, aligned=False)
    for image in (before, after):
        assert (
            api_client(people.clinician_a)
            .post(f"/api/images/{image.pk}/review/", {"disposition": "routine"}, format="json")
            .status_code
            == 200
        )
    assert queue_ids(people.clinician_a) == []
    # The worker aligns the pair later and flags the change.
    pipeline.measure_change(image_pk=after.pk)
    assert queue_ids(people.clinician_a) == [after.pk]
    assert "<strong>1</strong> flagged change to acknowledge" in signed_in(people.clinician_a).get("/").content.decode()
    # Until a clinician has looked at it, the patient does not read the flag.
    own = api_client(people.patient_a_user)
    assert own.get(f"/api/images/{after.pk}/").json()["change_from_previous"] is None
    assert own.get(f"/api/images/{after.pk}/").json()["prediction"] is not None
    patient_page = signed_in(people.patient_a_user).get(f"/patients/{people.patient_a.pk}/").content.decode()
    assert "badge-change" not in patient_page

    assert api_client(people.patient_a_user).post(f"/api/images/{after.pk}/acknowledge/").status_code == 403
    assert api_client(people.clinician_b).post(f"/api/images/{after.pk}/acknowledge/").status_code == 404
    assert signed_in(people.patient_a_user).post(f"/photos/{after.pk}/acknowledge/").status_code == 403
    assert not ChangeAcknowledgement.objects.exists()

    queue = signed_in(people.clinician_a).get("/review/").content.decode()
    assert "Acknowledge the change" in queue and "Area grew: x" in queue
    answer = signed_in(people.clinician_a).post(f"/photos/{after.pk}/acknowledge/", {"next": "/review/"})
    assert answer.status_code == 302 and answer["Location"] == "/review/"
    assert queue_ids(people.clinician_a) == []
    assert own.get(f"/api/images/{after.pk}/").json()["change_from_previous"]["changed"] is True
    patient_page = signed_in(people.patient_a_user).get(f"/patients/{people.patient_a.pk}/").content.decode()
    assert "badge-change" in patient_page
    again = api_client(people.admin_a).post(f"/api/images/{after.pk}/acknowledge/")
    assert again.status_code == 200  # acknowledging twice keeps the first
    assert ChangeAcknowledgement.objects.get(image=after).acknowledged_by == people.clinician_a


def test_a_photo_without_a_flagged_change_cannot_be_acknowledged(people):
    before, _ = followed_lesion(people.lesion_a, people.clinician_a)
    answer = api_client(people.clinician_a).post(f"/api/images/{before.pk}/acknowledge/")
    assert answer.status_code == 400
    assert answer.json()["non_field_errors"] == ["No change is flagged on this photo: there is nothing to acknowledge."]
    assert not ChangeAcknowledgement.objects.exists()
