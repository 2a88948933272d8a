"""The queue with real processes, shared by the queue and fault tests: the broker under test (the real Redis or the
embedded filesystem broker), a `celery worker` subprocess sharing the test database, and waiting for its work."""

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
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection

from lesions.models import LesionImage
from skintrack.celery import app as celery_app
from tests.images import jpeg_bytes

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


class Worker:
    """One `celery worker` process group (the main process and its pool child)."""

    def __init__(
        self,
        *,
        log: Path,
        broker: Broker,
        model_path: Path,
        media_root: Path,
        queues: str = "classification,analysis,celery",
    ):
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
        command = [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "skintrack",
            "worker",
            "--concurrency=1",
            "--loglevel=INFO",
            f"--queues={self.queues}",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
            f"--logfile={self.log}",
            f"--hostname=test-{uuid.uuid4().hex[:8]}@%h",
        ]
        self.process = subprocess.Popen(
            command,
            cwd=settings.BASE_DIR,
            env=self.env,
            start_new_session=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
        )
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
