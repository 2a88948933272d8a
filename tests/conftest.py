import importlib
import os
import shutil
import uuid
from pathlib import Path

import pytest
import redis
from aiosmtpd.controller import Controller
from knox.models import AuthToken
from pytest_factoryboy import register
from rest_framework.test import APIClient

from accounts.models import Membership
from skintrack.broker import TRANSPORT as FILESYSTEM_TRANSPORT
from skintrack.broker import filesystem_transport_options
from skintrack.celery import app as celery_app
from skintrack.celery import create_filesystem_broker_folders
from tests.factories import (
    ClinicFactory,
    LesionFactory,
    LesionImageFactory,
    MembershipFactory,
    ModelVersionFactory,
    PatientFactory,
    PredictionFactory,
    ShareFactory,
    UserFactory,
)
from tests.fault_support import free_port
from tests.model_files import served_model
from tests.queue_support import REDIS_URL, VISIBILITY_TIMEOUT_S, Broker, Worker, point_producer_at
from tests.sharing_support import Inbox

# pytest-factoryboy fixtures: a row of each factory (`lesion_image`, `prediction`, `share`...) and the factory
# itself (`lesion_image_factory`...); a factory's sub-rows come from the fixtures of the factories it names.
for factory_class in (
    ClinicFactory,
    UserFactory,
    MembershipFactory,
    PatientFactory,
    LesionFactory,
    LesionImageFactory,
    ModelVersionFactory,
    PredictionFactory,
    ShareFactory,
):
    register(factory_class)

IN_CI = os.environ.get("CI", "").lower() == "true"


def require_service(available: bool, reason: str) -> None:
    """Skip when a real service is missing on a developer's machine; in CI a missing service is a failure."""
    if available:
        return
    if IN_CI:
        pytest.fail(f"CI=true but {reason}")
    pytest.skip(reason, allow_module_level=True)


def require_training_extra(module: str):
    """A package only training and export need (requirements-train.txt): where it is not installed, the tests that
    need it skip with the reason; CI installs the extras, so there they must run."""
    try:
        return importlib.import_module(module)
    except ImportError:
        require_service(False, f"{module} is not installed: a training extra (pip install -r requirements-train.txt)")


def require_program(name: str) -> str:
    path = shutil.which(name)
    require_service(path is not None, f"{name} is not installed")
    return path


@pytest.fixture(autouse=True)
def isolated_media(settings, tmp_path):
    """Each test stores media in its own temporary folder, never in var/media."""
    media = tmp_path / "media"
    settings.MEDIA_ROOT = media
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": {"location": media}},
    }
    return media


@pytest.fixture(autouse=True)
def empty_cache():
    """Each test starts with an empty cache: a comparison one test measured (keyed by the photos' checksums, which
    the tests' generated photos share) must not answer for another."""
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


def stored_files(media_root) -> list[str]:
    return sorted(str(path.relative_to(media_root)) for path in media_root.rglob("*") if path.is_file())


class People:
    """The shared cast: clinic A with an admin, a clinician and two patients with accounts; clinic B with a
    clinician. Every permission test proves both sides with them."""

    def __init__(self):
        self.clinic_a = ClinicFactory(name="Clinic A")
        self.clinic_b = ClinicFactory(name="Clinic B")
        self.admin_a = MembershipFactory(clinic=self.clinic_a, role=Membership.Role.ADMIN).user
        self.clinician_a = MembershipFactory(clinic=self.clinic_a).user
        self.clinician_b = MembershipFactory(clinic=self.clinic_b).user
        self.patient_a_user = UserFactory()
        self.patient_b_user = UserFactory()
        self.patient_a = PatientFactory(clinic=self.clinic_a, user=self.patient_a_user)
        self.patient_b = PatientFactory(clinic=self.clinic_a, user=self.patient_b_user)
        self.lesion_a = LesionFactory(patient=self.patient_a)
        self.lesion_b = LesionFactory(patient=self.patient_b)


@pytest.fixture
def people(db) -> People:
    return People()


def api_client(user=None) -> APIClient:
    """A client that authenticates as a real API user would: with a token header."""
    client = APIClient()
    if user is not None:
        _, token = AuthToken.objects.create(user=user)
        client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    return client


@pytest.fixture
def smtp_inbox(settings):
    """A real SMTP server on 127.0.0.1 that Django's SMTP backend sends to."""
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = controller.hostname
    settings.EMAIL_PORT = controller.port
    settings.EMAIL_USE_TLS = False
    settings.EMAIL_TIMEOUT = 5
    settings.SKINTRACK_BASE_URL = "http://testserver"
    yield inbox
    controller.stop()


@pytest.fixture
def smtp_down(settings):
    """Mail settings naming a loopback port where no server listens: every connection is refused."""
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = free_port()
    settings.EMAIL_TIMEOUT = 2
    return settings


# The queue with real processes (tests.queue_support): the broker under test and the worker subprocesses.
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
    worker_env = {
        "REDIS_URL": REDIS_URL,
        "CELERY_REDIS_KEY_PREFIX": prefix,
        "CELERY_VISIBILITY_TIMEOUT": str(VISIBILITY_TIMEOUT_S),
    }
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


@pytest.fixture
def start_worker(isolated_media, tmp_path):
    workers = []

    def start(broker: Broker, model_path: Path | None = None, **options) -> Worker:
        worker = Worker(
            log=tmp_path / f"worker-{len(workers)}.log",
            broker=broker,
            model_path=model_path or served_model(),
            media_root=isolated_media,
            **options,
        )
        workers.append(worker)
        worker.start()
        return worker

    yield start
    for worker in workers:
        worker.kill()
