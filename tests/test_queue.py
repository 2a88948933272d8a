"""The queue with real processes: a `celery worker` subprocess on the real Redis (or the embedded filesystem
broker), sharing the test database.

Uploads go through the API; the worker classifies them from the same media folder. Each test starts its own
worker (its start-up dominates the time) and kills it in teardown.
"""

import time

import pytest
from django.core.management import call_command

from lesions.models import LesionImage
from lesions.tasks import classify_image_task
from tests.conftest import api_client, stored_files
from tests.model_files import model_copy, served_model
from tests.queue_support import upload, wait_for_status, wait_until

pytestmark = [pytest.mark.services, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_an_uploaded_photo_is_classified_by_the_worker_once_however_often_it_is_sent(
    people, redis_broker, start_worker, isolated_media
):
    worker = start_worker(redis_broker)
    client = api_client(people.clinician_a)
    image_pk = upload(client, people.lesion_a)

    assert wait_for_status(image_pk, {"done", "failed"}) == "done"
    shown = client.get(f"/api/images/{image_pk}/").json()
    assert shown["error"] == ""
    assert sum(shown["prediction"]["probabilities"].values()) == pytest.approx(1, abs=1e-5)
    # The lesion's outline follows on the analysis queue.
    image = wait_until(lambda: LesionImage.objects.filter(pk=image_pk, outline_status="done").first(), "the outline")
    assert image.measurements["area_pixels"] > 0 and image.mask.name
    assert client.get(f"/api/images/{image_pk}/").json()["outline_status"] == "done"

    classify_image_task.delay(image_pk)  # a message sent again (a redelivery, the safety net): nothing is redone
    # One worker process takes messages in order: once a later upload is outlined, the repeat has run too.
    later_pk = upload(client, people.lesion_a)
    wait_until(lambda: LesionImage.objects.filter(pk=later_pk, change_status="done").exists(), "the later change")
    repeated = LesionImage.objects.get(pk=image_pk)
    assert (repeated.status, repeated.outline_status, repeated.mask.name) == ("done", "done", image.mask.name)
    assert repeated.predictions.get().created_at == image.predictions.get().created_at
    masks = [name for name in stored_files(isolated_media) if name.startswith("lesion-masks/")]
    assert len(masks) == 2 and image.mask.name in masks

    # The served model runs on ONNX Runtime: TensorFlow (about 2 GB) must never be loaded by the worker.
    mapped = worker.mapped_files()
    assert "onnxruntime" in mapped
    assert "tensorflow" not in mapped


def test_the_analyst_outlines_photos_without_loading_the_classifier(people, redis_broker, start_worker):
    classifier = start_worker(redis_broker, queues="classification")
    analyst = start_worker(redis_broker, queues="analysis,celery")
    image_pk = upload(api_client(people.clinician_a), people.lesion_a)

    wait_until(lambda: LesionImage.objects.filter(pk=image_pk, outline_status="done").exists(), "the outline")
    wait_until(lambda: "Loaded the classifier" in classifier.log.read_text(), "the classifier's model")
    assert "Loaded the classifier" not in analyst.log.read_text()
    assert "Task lesions.tasks.analyse_image_task[" in analyst.log.read_text()
    assert "Task lesions.tasks.analyse_image_task[" not in classifier.log.read_text()


def test_a_worker_killed_mid_task_leaves_the_photo_to_the_next_worker(people, broker, start_worker):
    worker = start_worker(broker)
    # A large photo keeps the worker busy long enough (decoding 24 megapixels) to be caught mid-task.
    image_pk = upload(api_client(people.clinician_a), people.lesion_a, size=(5600, 4200))

    wait_for_status(image_pk, {"running"}, every=0.002)
    worker.kill()
    killed_at = time.monotonic()
    image = LesionImage.objects.get(pk=image_pk)
    assert image.status == "running" and not image.predictions.exists()

    time.sleep(max(0.0, broker.redelivery_wait - (time.monotonic() - killed_at)))
    start_worker(broker)
    assert wait_for_status(image_pk, {"done", "failed"}) == "done"
    assert image.predictions.count() == 1


def test_a_worker_killed_while_outlining_leaves_no_stage_undone(people, broker, start_worker):
    worker = start_worker(broker)
    client = api_client(people.clinician_a)
    earlier = upload(client, people.lesion_a)
    wait_until(lambda: LesionImage.objects.filter(pk=earlier, change_status="done").exists(), "the first photo")
    image_pk = upload(client, people.lesion_a, size=(5600, 4200))  # outlining it takes a while

    wait_until(
        lambda: LesionImage.objects.filter(pk=image_pk, outline_status="running").exists(), "the outline", every=0.002
    )
    worker.kill()
    killed_at = time.monotonic()
    image = LesionImage.objects.get(pk=image_pk)
    assert (image.status, image.outline_status, image.change_status) == ("done", "running", "queued")

    time.sleep(max(0.0, broker.redelivery_wait - (time.monotonic() - killed_at)))
    start_worker(broker)
    wait_until(
        lambda: LesionImage.objects.filter(pk=image_pk, change_status__in=["done", "failed"]).exists(),
        "the interrupted photo's change",
    )
    image.refresh_from_db()
    assert (image.status, image.outline_status, image.change_status, image.error) == ("done", "done", "done", "")
    assert image.change_from_previous["before_id"] == earlier
    assert image.predictions.count() == 1


def test_a_corrupt_model_fails_photos_readably_and_the_worker_keeps_serving(
    people, redis_broker, start_worker, tmp_path
):
    intact = served_model().read_bytes()
    damaged = model_copy(tmp_path, version="damaged-1", corrupt=True)
    worker = start_worker(redis_broker, model_path=damaged)
    client = api_client(people.clinician_a)

    first = upload(client, people.lesion_a)
    assert wait_for_status(first, {"done", "failed"}) == "failed"
    shown = client.get(f"/api/images/{first}/").json()
    assert shown["prediction"] is None
    assert shown["error"].startswith("The classification model could not be loaded")
    assert "damaged-1.onnx" in shown["error"]

    damaged.write_bytes(intact)
    second = upload(client, people.lesion_a)
    assert wait_for_status(second, {"done", "failed"}) == "done"
    assert worker.is_alive()
    assert LesionImage.objects.get(pk=second).predictions.get().model_version.version == "damaged-1"


def test_activating_a_model_version_serves_it_to_the_next_upload_without_a_restart(
    people, redis_broker, start_worker, tmp_path
):
    worker = start_worker(redis_broker)
    client = api_client(people.clinician_a)
    first = upload(client, people.lesion_a)
    assert wait_for_status(first, {"done", "failed"}) == "done"

    newer = model_copy(tmp_path, version="activated-2")
    call_command("register_model", model=str(newer), activate=True)
    served = {model["version"] for model in client.get("/api/models/").json()["results"] if model["is_active"]}
    assert served == {"activated-2"}

    second = upload(client, people.lesion_a)
    assert wait_for_status(second, {"done", "failed"}) == "done"
    assert worker.is_alive()
    versions = [client.get(f"/api/images/{pk}/").json()["prediction"]["model_version"] for pk in (first, second)]
    assert versions[0] != "activated-2" and versions[1] == "activated-2"
