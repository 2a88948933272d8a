"""The photo check on the worker's path: a photo held back is stored and shown with the reason and a prompt to
retake, gets no prediction and no place on the attention list; the patient's clinic can still ask for the answer."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from lesions import pipeline
from lesions.models import LesionImage, Prediction
from lesions.services import add_lesion_image
from lesions.triage import lesions_needing_attention
from tests.conftest import api_client
from tests.factories import LesionImageFactory, PredictionFactory
from tests.images import dashboard_screenshot, encode
from tests.model_files import served_model

pytestmark = pytest.mark.django_db

ASK_ANYWAY = "Ask for the model's answer anyway"


@pytest.fixture
def held_back(people):
    """A screenshot uploaded as a lesion photo and put through the worker's classification."""
    served_model()
    upload = SimpleUploadedFile("screen.png", encode(dashboard_screenshot(), "PNG"), content_type="image/png")
    image = add_lesion_image(lesion=people.lesion_a, upload=upload, uploaded_by=people.clinician_a)
    assert pipeline.classify_image(image_pk=image.pk) is False
    image.refresh_from_db()
    return image


def test_a_screenshot_is_stored_and_held_back_without_a_prediction(held_back):
    assert held_back.status == LesionImage.Status.GATED
    assert not held_back.predictions.exists()
    assert held_back.image.storage.exists(held_back.image.name)
    assert held_back.failed_photo_check and not held_back.gate_verdict["passed"]
    assert any("screenshot" in reason for reason in held_back.gate_reasons)
    assert not held_back.mask  # no outline either: there is no lesion to draw


def test_the_card_shows_the_reason_and_the_prompt_and_offers_the_clinic_the_answer(people, held_back, client):
    client.force_login(people.clinician_a)
    page = client.get(f"/lesions/{people.lesion_a.pk}/").content.decode()
    assert "did not pass the photo check" in page
    assert "it may be a screenshot" in page
    assert "Please retake the photo" in page
    assert ASK_ANYWAY in page
    assert "Malignancy score" not in page

    client.force_login(people.patient_a_user)
    page = client.get(f"/lesions/{people.lesion_a.pk}/").content.decode()
    assert "it may be a screenshot" in page
    assert ASK_ANYWAY not in page


def test_asking_anyway_produces_the_prediction_with_the_reasons_still_shown(people, held_back, client):
    client.force_login(people.clinician_a)
    answer = client.post(f"/photos/{held_back.pk}/classify-anyway/", headers={"HX-Request": "true"})
    assert answer.status_code == 200
    held_back.refresh_from_db()
    assert held_back.status == LesionImage.Status.QUEUED
    assert held_back.gate_overridden_by == people.clinician_a and held_back.gate_overridden_at is not None

    assert pipeline.classify_image(image_pk=held_back.pk) is True  # the worker takes the queued message
    held_back.refresh_from_db()
    assert held_back.status == LesionImage.Status.DONE
    assert held_back.predictions.count() == 1
    card = client.get(f"/photos/{held_back.pk}/card/").content.decode()
    assert "Malignancy score" in card
    assert "asked for the model's answer anyway" in card and "it may be a screenshot" in card
    assert ASK_ANYWAY not in card


def test_a_held_back_photo_never_puts_its_lesion_on_the_attention_list(people, held_back):
    checked = LesionImageFactory(lesion=people.lesion_b, uploaded_by=people.clinician_a)
    LesionImage.objects.filter(pk=checked.pk).update(gate_verdict={"passed": True, "reasons": [], "prompt": ""})
    melanoma = {"mel": 0.9, "nv": 0.04, "bcc": 0.02, "akiec": 0.01, "bkl": 0.01, "df": 0.01, "vasc": 0.01}
    for image in (held_back, checked):
        PredictionFactory(image=image, probabilities=melanoma)
    LesionImage.objects.filter(pk=held_back.pk).update(gate_overridden_at=held_back.created_at)

    listed = lesions_needing_attention(people.clinician_a)
    assert people.lesion_b in listed
    assert people.lesion_a not in listed


def test_the_api_action_is_for_the_patients_clinic_only_and_only_once(people, held_back):
    url = f"/api/images/{held_back.pk}/classify-anyway/"
    assert api_client(people.patient_a_user).post(url).status_code == 403
    assert api_client(people.clinician_b).post(url).status_code == 404
    assert LesionImage.objects.get(pk=held_back.pk).status == LesionImage.Status.GATED

    answer = api_client(people.clinician_a).post(url)
    assert answer.status_code == 202
    assert answer.json()["status"] == "queued"
    again = api_client(people.clinician_a).post(url)
    assert again.status_code == 409
    assert "not held back" in again.json()["detail"]


def test_the_api_shows_the_verdict(people, held_back):
    shown = api_client(people.clinician_a).get(f"/api/images/{held_back.pk}/").json()
    assert shown["status"] == "gated" and shown["prediction"] is None
    assert "not_dermoscopic" in [reason["code"] for reason in shown["gate_verdict"]["reasons"]]


def test_a_clinical_photo_is_held_back_for_the_clinic_to_decide(people):
    served_model()
    upload = SimpleUploadedFile("camera.jpg", encode(dashboard_screenshot(), "JPEG"), content_type="image/jpeg")
    image = add_lesion_image(lesion=people.lesion_a, upload=upload, uploaded_by=people.clinician_a, modality="clinical")
    pipeline.classify_image(image_pk=image.pk)
    image.refresh_from_db()
    assert "clinical_photo" in [reason["code"] for reason in image.gate_verdict["reasons"]]
    assert not Prediction.objects.filter(image=image).exists()
