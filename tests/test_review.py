"""Review before release: a photo's result (prediction, measurements, change flag) reaches the patient only after
a clinician of the patient's clinic has reviewed it, by page, API, PDF and share alike; only that clinic reviews."""

import pytest
from django.test import Client

from lesions.models import LesionImage, PhotoReview
from sharing.services import share_lesion
from sharing.tasks import send_share_email_task
from tests.conftest import api_client
from tests.factories import LATER, ModelVersionFactory, PredictionFactory, followed_lesion
from tests.sharing_support import pdf_text, share_link_path, text_of

# The later photo's result (tests.sharing_support.LATER) and its flagged change, as each surface words them.
PAGE_RESULT = "melanoma</strong> (57%)"
SUMMARY_RESULT = "melanoma (57%)"
PDF_RESULT = "melanoma 57%"
FLAG = "Flagged as changed"
NOTE = "This looks settled; send us a new photo in six months."


@pytest.fixture
def photos(people):
    """Two photos of patient A's lesion taken at the clinic, both analysed, neither reviewed."""
    return followed_lesion(people.lesion_a, people.clinician_a)


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def review(people, image, user=None, **body):
    body = {"disposition": "routine", "note_to_patient": NOTE, **body}
    return api_client(user or people.clinician_a).post(f"/api/images/{image.pk}/review/", body, format="json")


def what_the_patient_reads(people, after) -> dict[str, str]:
    patient = signed_in(people.patient_a_user)
    own = api_client(people.patient_a_user)
    lesion = people.lesion_a.pk
    return {
        "lesion page": patient.get(f"/lesions/{lesion}/").content.decode(),
        "patient page": patient.get(f"/patients/{people.patient_a.pk}/").content.decode(),
        "photo card": patient.get(f"/photos/{after.pk}/card/").content.decode(),
        "pdf": pdf_text(patient.get(f"/lesions/{lesion}/report.pdf").content),
        "api image": own.get(f"/api/images/{after.pk}/").content.decode(),
        "api images": own.get("/api/images/").content.decode(),
        "api timeline": own.get(f"/api/lesions/{lesion}/timeline/").content.decode(),
    }


def test_the_patient_reads_no_result_before_review_and_the_result_and_note_after(people, photos):
    before, after = photos
    for surface, content in what_the_patient_reads(people, after).items():
        assert "57%" not in content and "0.57" not in content, surface
        assert FLAG not in content and "Changed" not in content, surface
    own = api_client(people.patient_a_user)
    withheld = own.get(f"/api/images/{after.pk}/").json()
    assert withheld["status"] == "done" and withheld["result_released"] is False and withheld["review"] is None
    assert (withheld["prediction"], withheld["measurements"], withheld["change_from_previous"]) == (None,) * 3
    # Comparing shows both photos' results: the patient is offered only photos whose results are released.
    assert signed_in(people.patient_a_user).get(f"/photos/{after.pk}/outline.png").status_code == 403
    compare = signed_in(people.patient_a_user).get(f"/lesions/{people.lesion_a.pk}/compare/")
    assert compare.status_code == 200 and compare.context["images"] == []
    pages = what_the_patient_reads(people, after)
    assert "Your clinic will review this photo" in pages["photo card"]
    assert "your clinic will review this photo" in pages["patient page"]
    assert "Awaiting the clinic's review" in pages["pdf"]

    assert review(people, before).status_code == 200
    answer = review(people, after, disposition="sooner")
    assert answer.status_code == 200, answer.content
    assert answer.json()["review"]["note_to_patient"] == NOTE

    released = own.get(f"/api/images/{after.pk}/").json()
    assert released["result_released"] is True
    assert released["prediction"]["top"][0] == ["mel", 0.57]
    assert released["change_from_previous"]["changed"] is True
    assert released["review"]["disposition"] == "sooner" and released["review"]["note_to_patient"] == NOTE
    pages = what_the_patient_reads(people, after)
    for surface in ("lesion page", "photo card"):
        assert PAGE_RESULT in pages[surface] and NOTE in pages[surface], surface
        assert "Sooner follow-up" in pages[surface], surface
        assert "Your clinic will review this photo" not in pages[surface], surface
    assert "Changed" in pages["patient page"] and "most likely melanoma" in pages["patient page"]
    assert PDF_RESULT in pages["pdf"].lower() and FLAG in pages["pdf"]
    assert signed_in(people.patient_a_user).get(f"/photos/{after.pk}/outline.png").status_code == 200


def test_a_clinic_member_sees_the_result_before_review_and_may_review_it(people, photos):
    _, after = photos
    for user in (people.clinician_a, people.admin_a):
        card = signed_in(user).get(f"/photos/{after.pk}/card/").content.decode()
        assert PAGE_RESULT in card and "Review this photo" in card
        assert "Your clinic will review this photo" not in card
        assert api_client(user).get(f"/api/images/{after.pk}/").json()["prediction"] is not None


def test_a_clinic_that_does_not_review_first_releases_results_at_once(people, photos):
    people.clinic_a.review_before_release = False
    people.clinic_a.save()
    _, after = photos
    released = api_client(people.patient_a_user).get(f"/api/images/{after.pk}/").json()
    assert released["result_released"] is True and released["prediction"]["top"][0] == ["mel", 0.57]
    assert PAGE_RESULT in signed_in(people.patient_a_user).get(f"/photos/{after.pk}/card/").content.decode()


def test_only_clinicians_of_the_patients_clinic_review(people, photos):
    _, after = photos
    assert review(people, after, user=people.patient_a_user).status_code == 403  # sees the photo, may not review
    for outsider in (people.patient_b_user, people.clinician_b):
        assert review(people, after, user=outsider).status_code == 404
    assert api_client().post(f"/api/images/{after.pk}/review/", {"disposition": "routine"}).status_code == 401
    page = signed_in(people.patient_a_user).post(
        f"/photos/{after.pk}/review/", {f"review-{after.pk}-disposition": "routine"}
    )
    assert page.status_code == 403
    assert signed_in(people.clinician_b).post(f"/photos/{after.pk}/review/").status_code == 404
    assert not PhotoReview.objects.exists()

    assert review(people, after, user=people.admin_a).status_code == 200
    reviewed = signed_in(people.clinician_a).post(
        f"/photos/{after.pk}/review/",
        {f"review-{after.pk}-disposition": "biopsy", f"review-{after.pk}-note_to_patient": "  Please book a visit. "},
    )
    assert reviewed.status_code == 302 and reviewed["Location"] == f"/lesions/{people.lesion_a.pk}/"
    corrected = PhotoReview.objects.get(image=after)  # reviewing again corrects the review
    assert (corrected.reviewed_by, corrected.disposition, corrected.note_to_patient) == (
        people.clinician_a,
        "biopsy",
        "Please book a visit.",
    )


def test_a_review_before_the_analysis_finishes_is_refused(people, photos):
    _, after = photos
    LesionImage.objects.filter(pk=after.pk).update(status=LesionImage.Status.RUNNING)
    answer = review(people, after)
    assert answer.status_code == 400
    assert "has not finished" in answer.json()["non_field_errors"][0]
    unknown = review(people, photos[0], disposition="wait and see")
    assert unknown.status_code == 400 and "disposition" in unknown.json()
    assert not PhotoReview.objects.exists()


def test_a_share_by_the_patient_carries_only_reviewed_results(people, photos, smtp_inbox):
    _, after = photos
    by_patient = share_lesion(lesion=people.lesion_a, shared_by=people.patient_a_user)
    by_clinic = share_lesion(lesion=people.lesion_a, shared_by=people.clinician_a)
    for share in (by_patient, by_clinic):
        send_share_email_task.apply(args=[share.pk])
    patient_email, clinic_email = smtp_inbox.messages
    assert SUMMARY_RESULT not in text_of(patient_email) and FLAG not in text_of(patient_email)
    assert SUMMARY_RESULT in text_of(clinic_email) and FLAG in text_of(clinic_email)
    gp = Client()
    link = share_link_path(patient_email)
    page = gp.get(link).content.decode()
    assert SUMMARY_RESULT not in page and "Awaiting the clinic&#x27;s review" in page
    assert "57%" not in pdf_text(gp.get(f"{link}report.pdf").content)

    assert review(people, after).status_code == 200
    assert SUMMARY_RESULT in gp.get(link).content.decode()
    assert PDF_RESULT in pdf_text(gp.get(f"{link}report.pdf").content).lower()


def test_a_result_that_arrives_after_the_review_waits_for_a_new_one(people, photos):
    _, after = photos
    assert review(people, after).status_code == 200
    own = api_client(people.patient_a_user)
    assert own.get(f"/api/images/{after.pk}/").json()["prediction"]["model_version"] == "lite0-2026.11-test"
    # The photo is analysed again, by a newer model: its new result is not the one the clinician reviewed.
    newer = ModelVersionFactory(version="lite0-2027.01-test", sha256="1" * 64)
    PredictionFactory(image=after, model_version=newer, probabilities={**LATER, "mel": 0.8, "nv": 0.02})
    withheld = own.get(f"/api/images/{after.pk}/").json()
    assert withheld["result_released"] is False and withheld["prediction"] is None
    queue = api_client(people.clinician_a).get("/api/images/review-queue/").json()["results"]
    assert after.pk in [image["id"] for image in queue]

    assert review(people, after, disposition="see_in_clinic").status_code == 200
    released = own.get(f"/api/images/{after.pk}/").json()
    assert released["prediction"]["model_version"] == "lite0-2027.01-test"
    assert released["review"]["disposition"] == "see_in_clinic"
