"""The factories build rows the way the application does, so a test's rows are ones the application can produce."""

from datetime import timedelta

import pytest

from inference.analysis.change import CHANGED, UNCHANGED
from lesions.models import LesionImage
from sharing.services import DEFAULT_EXPIRY_DAYS
from tests.conftest import stored_files
from tests.factories import GROWTH, LesionImageFactory, PredictionFactory, followed_lesion

pytestmark = pytest.mark.django_db


def test_a_photo_is_stored_through_the_upload_path_with_its_thumbnail_and_queued(lesion_image, isolated_media):
    assert lesion_image.status == LesionImage.Status.QUEUED
    assert (lesion_image.width, lesion_image.height) == (300, 225) and len(lesion_image.sha256) == 64
    assert stored_files(isolated_media) == sorted([lesion_image.image.name, lesion_image.thumbnail.name])
    assert not lesion_image.taken_by_patient  # its uploader is a clinician of the patient's clinic


def test_a_prediction_is_stored_by_the_pipeline_with_the_malignancy_of_the_malignant_classes(lesion_image):
    prediction = PredictionFactory(image=lesion_image, most_likely="bcc", probability=0.4)
    assert prediction.malignancy == pytest.approx(0.4 + 2 * 0.1)  # bcc, and mel and akiec sharing the rest
    assert [code for code, _ in prediction.top] == ["bcc", "akiec"]
    lesion_image.refresh_from_db()
    assert lesion_image.status == LesionImage.Status.DONE


def test_a_share_gets_the_services_token_expiry_and_photos(share_factory, lesion_image):
    share = share_factory(lesion=lesion_image.lesion)
    assert share.recipient_email == lesion_image.lesion.patient.family_physician_email
    assert share.expires_at - share.created_at == timedelta(days=DEFAULT_EXPIRY_DAYS)
    assert list(share.images.all()) == [lesion_image]


def test_photos_compared_by_the_pipeline_flag_a_grown_lesion_and_not_the_same_one(people):
    before, after = followed_lesion(people.lesion_a, people.clinician_a)
    change = after.change_from_previous
    assert (change["before_id"], change["verdict"]) == (before.pk, CHANGED)
    assert change["area_ratio"] == pytest.approx(GROWTH**2, rel=0.1)
    assert before.change_from_previous is None  # the first photo has nothing to compare with

    again = LesionImageFactory(
        lesion=people.lesion_a, uploaded_by=people.clinician_a, lesion_scale=GROWTH, compared=True
    )
    assert again.change_from_previous["before_id"] == after.pk
    assert again.change_from_previous["verdict"] == UNCHANGED
