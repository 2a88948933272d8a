"""The queue with real processes: a `celery worker` subprocess on the real Redis (or the embedded filesystem
broker), sharing the test database.

Uploads go through the API; the worker classifies them from the same media folder. Each test starts its own
worker (its start-up dominates the time) and kills it in teardown.
"""

import os
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import pytest
import redis
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.db import connection

from lesions.models import LesionImage
from lesions.tasks import classify_image_task
from skintrack.broker import TRANSPORT as FILESYSTEM_TRANSPORT
from skintrack.broker import filesystem_transport_options
from skintrack.celery import app as celery_app
from skintrack.celery import create_filesystem_broker_folders
from tests.conftest import api_client, require_service, stored_files
from tests.images import jpeg_bytes
from tests.model_files import model_copy, served_model

pytestmark = [pytest.mark.services, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

REDIS_URL = os.environ.get("SKINTRACK_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
# A message held by a killed worker is handed out again after this long (production waits minutes).
VISIBILITY_TIMEOUT_S = 2
WORKER_START_TIMEOUT_S = 120
TASK_TIMEOUT_S = 60


def worker_database_url() -> str:
    """The URL of the database this test run created, for the worker process to use."""
    db = connection.settings_dict
    if db["ENGINE"] == "django.db.backends.sqlite3":
        return f"sqlite:///{db['NAME']}"
    return f"postgres://{quote(db['USER'])}:{quote(db['PASSWORD'])}@{db['HOST']}:{db['PORT']}/{db['NAME']}"


def point_producer_at(url: str, options: dict, transport: str | None = None) -> None:
    celery_app.conf.broker_url = url
    celery_app.conf.broker_transport = transport
    celery_app.conf.broker_transport_options = options
    # Drop the pooled connections to the previous broker, as Celery itself does after a fork.
    celery_app._pool = None
    celery_app.amqp._producer_pool = None


@dataclass
class Broker:
    worker_env: dict[str, str]
    redelivery_wait: float  # how long a killed worker's message stays out of reach


@pytest.fixture
def redis_broker():
    """The real Redis, with keys of this test's own (test runs side by side share the server)."""
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2)
    try:
        client.ping()
    except redis.exceptions.ConnectionError:
        require_service(False, f"Redis is not reachable at {REDIS_URL} (set SKINTRACK_TEST_REDIS_URL)")
    prefix = f"skintrack-test-{uuid.uuid4().hex}:"
    previous = (celery_app.conf.broker_url, celery_app.conf.broker_transport_options, celery_app.conf.broker_transport)
    point_producer_at(REDIS_URL, {"visibility_timeout": VISIBILITY_TIMEOUT_S, "global_keyprefix": prefix})
    worker_env = {"REDIS_URL": REDIS_URL, "CELERY_REDIS_KEY_PREFIX": prefix,
                  "CELERY_VISIBILITY_TIMEOUT": str(VISIBILITY_TIMEOUT_S)}
    yield Broker(worker_env, redelivery_wait=VISIBILITY_TIMEOUT_S + 0.5)
    point_producer_at(*previous)
    for key in client.scan_iter(match=f"{prefix}*"):
        client.delete(key)


@pytest.fixture
def filesystem_broker(tmp_path):
    """The embedded broker `make run` uses, in the test's own folder."""
    previous = (celery_app.conf.broker_url, celery_app.conf.broker_transport_options, celery_app.conf.broker_transport)
    options = filesystem_transport_options(tmp_path / "broker", polling_interval=0.05)
    point_producer_at("filesystem://", options, FILESYSTEM_TRANSPORT)
    create_filesystem_broker_folders(celery_app)
    yield Broker({"CELERY_BROKER_DIR": str(tmp_path / "broker")}, redelivery_wait=0)
    point_producer_at(*previous)


@pytest.fixture(params=["redis", "filesystem"])
def broker(request) -> Broker:
    return request.getfixturevalue(f"{request.param}_broker")


class Worker:
    """One `celery worker` process group (the main process and its pool child)."""

    def __init__(self, *, log: Path, broker: Broker, model_path: Path, media_root: Path,
                 queues: str = "classification,analysis,celery"):
        self.log = log
        self.queues = queues
        self.env = {
            **{name: value for name, value in os.environ.items() if name != "REDIS_URL"},
            "DJANGO_SETTINGS_MODULE": "skintrack.settings.local",
            "DJANGO_DEBUG": "false",
            "DATABASE_URL": worker_database_url(),
            "DJANGO_MEDIA_ROOT": str(media_root),
            "SKINTRACK_MODEL_PATH": str(model_path),
            **broker.worker_env,
        }
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        self.log.write_text("")
        command = [sys.executable, "-m", "celery", "-A", "skintrack", "worker", "--concurrency=1", "--loglevel=INFO",
                   f"--queues={self.queues}",
                   "--without-gossip", "--without-mingle", "--without-heartbeat", f"--logfile={self.log}",
                   f"--hostname=test-{uuid.uuid4().hex[:8]}@%h"]
        self.process = subprocess.Popen(command, cwd=settings.BASE_DIR, env=self.env, start_new_session=True,
                                        stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + WORKER_START_TIMEOUT_S
        while " ready." not in self.log.read_text():
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.kill()
                pytest.fail(f"the worker did not start:\n{self.log.read_text()[-3000:]}")
            time.sleep(0.1)

    def kill(self) -> None:
        """SIGKILL the whole group, as a crash or the OOM killer would: no task gets to finish or hand back."""
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)

    def is_alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def mapped_files(self) -> str:
        """The shared libraries and files mapped by the worker and its pool children."""
        pids = [self.process.pid]
        pids += Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children").read_text().split()
        return "".join(Path(f"/proc/{pid}/maps").read_text() for pid in pids)


@pytest.fixture
def start_worker(isolated_media, tmp_path):
    workers = []

    def start(broker: Broker, model_path: Path | None = None, **options) -> Worker:
        worker = Worker(log=tmp_path / f"worker-{len(workers)}.log", broker=broker,
                        model_path=model_path or served_model(), media_root=isolated_media, **options)
        workers.append(worker)
        worker.start()
        return worker

    yield start
    for worker in workers:
        worker.kill()


def upload(client, lesion, size=(200, 150)) -> int:
    photo = SimpleUploadedFile("photo.jpg", jpeg_bytes(size), content_type="image/jpeg")
    answer = client.post(f"/api/lesions/{lesion.pk}/images/", {"image": photo}, format="multipart")
    assert answer.status_code == 201, answer.content
    return answer.json()["id"]


def wait_until(condition, what: str, *, timeout: float = TASK_TIMEOUT_S, every: float = 0.02):
    deadline = time.monotonic() + timeout
    while not (result := condition()):
        if time.monotonic() > deadline:
            pytest.fail(f"waited {timeout} s for {what}")
        time.sleep(every)
    return result


def wait_for_status(image_pk: int, statuses: set[str], **timing) -> str:
    def status():
        current = LesionImage.objects.values_list("status", flat=True).get(pk=image_pk)
        return current if current in statuses else None

    return wait_until(status, f"image {image_pk} to be {' or '.join(sorted(statuses))}", **timing)


def test_an_uploaded_photo_is_classified_by_the_worker_once_however_often_it_is_sent(people, redis_broker,
                                                                                    start_worker, isolated_media):
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
    assert "onnxruntime" in classifier.mapped_files()
    assert "onnxruntime" not in analyst.mapped_files()
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

    wait_until(lambda: LesionImage.objects.filter(pk=image_pk, outline_status="running").exists(), "the outline",
               every=0.002)
    worker.kill()
    killed_at = time.monotonic()
    image = LesionImage.objects.get(pk=image_pk)
    assert (image.status, image.outline_status, image.change_status) == ("done", "running", "queued")

    time.sleep(max(0.0, broker.redelivery_wait - (time.monotonic() - killed_at)))
    start_worker(broker)
    wait_until(lambda: LesionImage.objects.filter(pk=image_pk, change_status__in=["done", "failed"]).exists(),
               "the interrupted photo's change")
    image.refresh_from_db()
    assert (image.status, image.outline_status, image.change_status, image.error) == ("done", "done", "done", "")
    assert image.change_from_previous["before_id"] == earlier
    assert image.predictions.count() == 1


def test_a_corrupt_model_fails_photos_readably_and_the_worker_keeps_serving(people, redis_broker, start_worker,
                                                                           tmp_path):
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


def test_activating_a_model_version_serves_it_to_the_next_upload_without_a_restart(people, redis_broker, start_worker,
                                                                                   tmp_path):
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

