"""Classifying stored photos in-process with the served model: predictions, versions, outlines and failures."""

from datetime import timedelta

import numpy as np
import pytest
from django.db import OperationalError
from django.utils import timezone
from PIL import Image

from inference import Classifier
from inference.serving.labels import CLASSES, MALIGNANT_CLASSES
from lesions import pipeline, registry
from lesions.models import LesionImage, ModelVersion
from lesions.tasks import analyse_image_task, classify_image_task
from tests.conftest import api_client, stored_files
from tests.factories import LesionImageFactory
from tests.images import encode, real_lesion_photo
from tests.model_files import model_copy, run_pipeline, served_model

pytestmark = pytest.mark.django_db


@pytest.fixture
def photo(people):
    served_model()
    return LesionImageFactory(lesion=people.lesion_a, uploaded_by=people.clinician_a)


def test_a_photo_gets_a_prediction_of_the_active_served_version(people, photo):
    pipeline.classify_image(image_pk=photo.pk)

    photo.refresh_from_db()
    assert (photo.status, photo.error) == (LesionImage.Status.DONE, "")
    [prediction] = photo.predictions.all()
    probabilities = prediction.probabilities
    assert set(probabilities) == set(CLASSES)
    assert sum(probabilities.values()) == pytest.approx(1, abs=1e-5)
    assert [name for name, _ in prediction.top] == sorted(probabilities, key=probabilities.get, reverse=True)[:2]
    assert prediction.malignancy == pytest.approx(sum(probabilities[name] for name in MALIGNANT_CLASSES))
    assert sum(prediction.dx_type.values()) == pytest.approx(1, abs=1e-5)
    served = registry.served_classifier()
    version = prediction.model_version
    assert (version.version, version.name, version.sha256) == (served.version, served.name, served.sha256)
    assert version.is_active and version.metrics == served.metrics

    shown = api_client(people.clinician_a).get(f"/api/images/{photo.pk}/").json()
    assert shown["status"] == "done"
    assert shown["prediction"]["model_version"] == served.version
    assert shown["prediction"]["probabilities"] == probabilities


def test_the_lesion_outline_and_its_measurements_are_stored(photo):
    run_pipeline(photo.pk)

    photo.refresh_from_db()
    with photo.mask.open("rb") as stored, Image.open(stored) as mask:
        assert (mask.format, mask.size) == ("PNG", (photo.width, photo.height))
        lesion_pixels = int((np.asarray(mask) == 255).sum())
    assert 0 < lesion_pixels < photo.width * photo.height
    assert photo.measurements["area_pixels"] == lesion_pixels
    assert photo.measurements["longest_diameter_pixels"] > 0


def test_each_stage_records_its_state_and_running_again_redoes_nothing(
    photo, isolated_media, django_capture_on_commit_callbacks
):
    pipeline.classify_image(image_pk=photo.pk)
    photo.refresh_from_db()
    assert (photo.status, photo.outline_status, photo.change_status) == ("done", "queued", "queued")

    for _ in range(2):  # the second time is a message delivered again
        with django_capture_on_commit_callbacks(execute=True):
            run_pipeline(photo.pk)

    photo.refresh_from_db()
    assert (photo.status, photo.outline_status, photo.change_status) == ("done", "done", "done")
    assert photo.predictions.count() == 1
    masks = [name for name in stored_files(isolated_media) if name.startswith("lesion-masks/")]
    assert masks == [photo.mask.name]


def test_an_outline_run_again_replaces_the_mask_file(photo, isolated_media, django_capture_on_commit_callbacks):
    for _ in range(2):
        with django_capture_on_commit_callbacks(execute=True):
            pipeline.outline_lesion(image=photo, photo=pipeline.read_photo(photo))
            photo.refresh_from_db()

    masks = [name for name in stored_files(isolated_media) if name.startswith("lesion-masks/")]
    assert masks == [photo.mask.name]


def test_a_failed_outline_fails_the_change_too_and_the_prediction_stands(photo):
    pipeline.classify_image(image_pk=photo.pk)
    photo.image.storage.delete(photo.image.name)

    pipeline.analyse_image(image_pk=photo.pk)

    photo.refresh_from_db()
    assert (photo.status, photo.outline_status, photo.change_status) == ("done", "failed", "failed")
    assert photo.error.startswith("The lesion's outline could not be measured:")
    assert photo.predictions.count() == 1


def test_an_unreadable_stored_photo_fails_with_a_readable_error(photo):
    photo.image.storage.delete(photo.image.name)

    pipeline.classify_image(image_pk=photo.pk)

    photo.refresh_from_db()
    assert photo.status == LesionImage.Status.FAILED
    assert photo.error.startswith("The stored photo could not be read:")
    assert not photo.predictions.exists()


def test_a_corrupt_model_fails_the_photo_and_the_repaired_file_is_used_next(photo, settings, tmp_path):
    intact = served_model().read_bytes()
    damaged = model_copy(tmp_path, version="damaged-1", corrupt=True)
    settings.SKINTRACK_MODEL_PATH = str(damaged)

    pipeline.classify_image(image_pk=photo.pk)

    photo.refresh_from_db()
    assert photo.status == LesionImage.Status.FAILED
    assert photo.error.startswith("The classification model could not be loaded")
    assert str(damaged) in photo.error

    damaged.write_bytes(intact)
    pipeline.classify_image(image_pk=photo.pk)
    photo.refresh_from_db()
    assert (photo.status, photo.error) == (LesionImage.Status.DONE, "")
    assert photo.predictions.get().model_version.version == "damaged-1"


def test_a_version_registered_with_another_file_refuses_to_serve(photo):
    served = Classifier.load(served_model())
    ModelVersion.objects.create(name=served.name, version=served.version, sha256="0" * 64)

    pipeline.classify_image(image_pk=photo.pk)

    photo.refresh_from_db()
    assert photo.status == LesionImage.Status.FAILED
    assert "registered with file checksum" in photo.error


def test_a_task_takes_the_photos_queued_behind_its_own_and_their_messages_find_them_done(people, photo, monkeypatch):
    queued = [LesionImageFactory(lesion=people.lesion_a, uploaded_by=people.clinician_a) for _ in range(3)]
    outlines_sent = []
    monkeypatch.setattr(analyse_image_task, "delay", outlines_sent.append)

    classify_image_task.run(photo.pk)

    taken = [photo.pk, *(image.pk for image in queued)]
    assert outlines_sent == taken
    assert set(LesionImage.objects.filter(pk__in=taken).values_list("status", flat=True)) == {"done"}
    first_answers = {image.pk: image.predictions.get().created_at for image in queued}
    for image in queued:  # their own messages come later: nothing is redone, no outline is sent twice
        classify_image_task.run(image.pk)
    assert outlines_sent == taken
    assert {image.pk: image.predictions.get().created_at for image in queued} == first_answers


def test_a_task_takes_at_most_a_batch_of_queued_photos_oldest_first(people, photo):
    queued = [LesionImageFactory(lesion=people.lesion_a, uploaded_by=people.clinician_a) for _ in range(3)]

    taken = pipeline.classify_photos(image_pk=queued[1].pk, batch_size=3)

    assert taken == {queued[1].pk: True, photo.pk: True, queued[0].pk: True}
    assert LesionImage.objects.get(pk=queued[2].pk).status == LesionImage.Status.QUEUED


def test_an_unreadable_photo_in_a_batch_fails_alone(people, photo):
    unreadable = LesionImageFactory(lesion=people.lesion_a, uploaded_by=people.clinician_a)
    later = LesionImageFactory(lesion=people.lesion_a, uploaded_by=people.clinician_a)
    unreadable.image.storage.delete(unreadable.image.name)

    assert pipeline.classify_photos(image_pk=photo.pk) == {photo.pk: True, unreadable.pk: False, later.pk: True}

    unreadable.refresh_from_db()
    assert unreadable.status == LesionImage.Status.FAILED
    assert unreadable.error.startswith("The stored photo could not be read:")
    assert LesionImage.objects.get(pk=later.pk).predictions.count() == 1


def test_a_queued_photo_the_database_lost_is_left_to_its_own_message(people, photo, monkeypatch):
    unlucky = LesionImageFactory(lesion=people.lesion_a, uploaded_by=people.clinician_a)
    read = pipeline.read_photo

    def database_gone_for(image):
        if image.pk == unlucky.pk:
            raise OperationalError("server closed the connection unexpectedly")
        return read(image)

    monkeypatch.setattr(pipeline, "read_photo", database_gone_for)
    assert pipeline.classify_photos(image_pk=photo.pk) == {photo.pk: True}
    assert LesionImage.objects.get(pk=unlucky.pk).status == LesionImage.Status.RUNNING

    monkeypatch.setattr(pipeline, "read_photo", read)
    assert pipeline.classify_image(image_pk=unlucky.pk)  # its own message, the database back
    assert LesionImage.objects.get(pk=unlucky.pk).predictions.count() == 1


def test_one_version_is_active_at_a_time(tmp_path):
    served = registry.register_model_version(classifier=registry.served_classifier())
    newer = registry.classifier_for(version=str(model_copy(tmp_path, version="newer-2")))

    registered = registry.register_model_version(classifier=newer)
    assert not registered.is_active
    assert ModelVersion.objects.get(is_active=True) == served

    registry.register_model_version(classifier=newer, activate=True)
    assert ModelVersion.objects.get(is_active=True).version == "newer-2"


def test_a_photo_deleted_before_its_turn_is_skipped(photo):
    photo.delete()

    pipeline.classify_image(image_pk=photo.pk)

    assert not ModelVersion.objects.exists()


def test_a_photo_whose_retries_ran_out_is_marked_failed(photo):
    classify_image_task.on_failure(OperationalError("connection refused"), "task-id", (photo.pk,), {}, None)

    photo.refresh_from_db()
    assert photo.status == LesionImage.Status.FAILED
    assert photo.error.startswith("Classification was retried several times and gave up")
    assert "connection refused" in photo.error


def test_the_safety_net_finds_stages_left_undone_and_not_photos_waiting_in_a_queue(people, photo):
    now = timezone.now()
    long_ago = now - timedelta(minutes=10)
    lost = LesionImageFactory(lesion=people.lesion_a, uploaded_by=people.clinician_a)  # queued, its message lost
    killed = LesionImageFactory(
        lesion=people.lesion_a, uploaded_by=people.clinician_a
    )  # its worker died while outlining it
    fresh = LesionImageFactory(lesion=people.lesion_a, uploaded_by=people.clinician_a)  # only just uploaded
    LesionImage.objects.filter(pk__in=[photo.pk, lost.pk, killed.pk]).update(stage_changed_at=long_ago)
    LesionImage.objects.filter(pk=photo.pk).update(status="done", outline_status="done", change_status="done")
    LesionImage.objects.filter(pk=killed.pk).update(status="done", outline_status="running")

    with_queues_idle = pipeline.stages_left_undone(now=now, idle_queues={"classification", "analysis"})
    assert sorted((pk, stage.name) for pk, stage in with_queues_idle) == [
        (lost.pk, "classification"),
        (killed.pk, "outline"),
    ]
    # While the classification queue holds messages, a queued photo may just be waiting its turn.
    with_a_backlog = pipeline.stages_left_undone(now=now, idle_queues={"analysis"})
    assert [(pk, stage.name) for pk, stage in with_a_backlog] == [(killed.pk, "outline")]
    assert fresh.pk not in {pk for pk, _ in with_queues_idle}


def test_the_safety_net_sends_a_stage_again_once_then_fails_it_readably(photo):
    LesionImage.objects.filter(pk=photo.pk).update(status="done", outline_status="running")

    assert pipeline.claim_resend(image_pk=photo.pk, stage=pipeline.OUTLINE)
    assert not pipeline.claim_resend(image_pk=photo.pk, stage=pipeline.OUTLINE)

    photo.refresh_from_db()
    assert (photo.status, photo.outline_status) == ("done", "failed")
    assert photo.error == ("The outline of this photo was interrupted twice and was given up; upload the photo again.")


def test_activating_another_version_serves_it_to_the_next_photo(people, photo, tmp_path):
    pipeline.classify_image(image_pk=photo.pk)
    newer = registry.classifier_for(version=str(model_copy(tmp_path, version="newer-3")))
    registry.register_model_version(classifier=newer, activate=True)

    later = LesionImageFactory(lesion=people.lesion_a, uploaded_by=people.clinician_a)
    pipeline.classify_image(image_pk=later.pk)

    assert photo.predictions.get().model_version.version != "newer-3"
    assert later.predictions.get().model_version.version == "newer-3"
    assert registry.serving_model()[1].file_path == str(newer.path.resolve())


def test_a_large_phone_photo_is_outlined_on_a_reduced_copy_and_measured_in_its_own_pixels(people):
    large = real_lesion_photo().resize((2400, 1800), Image.Resampling.BICUBIC)
    image = LesionImageFactory(
        lesion=people.lesion_a, uploaded_by=people.clinician_a, content=encode(large, "JPEG", quality=90)
    )
    run_pipeline(image.pk)

    image.refresh_from_db()
    with image.mask.open("rb") as stored, Image.open(stored) as mask:
        assert mask.size == (1024, 768)
        lesion_share = float((np.asarray(mask) == 255).mean())
    measured = image.measurements
    assert (measured["image_width"], measured["image_height"]) == (2400, 1800)
    assert measured["area_pixels"] == pytest.approx(lesion_share * 2400 * 1800, rel=0.01)
    assert measured["area_fraction"] == pytest.approx(lesion_share, rel=0.01)
    assert 400 < measured["longest_diameter_pixels"] < 2400
