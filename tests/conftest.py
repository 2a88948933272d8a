import importlib
import os
import shutil

import pytest
from knox.models import AuthToken
from rest_framework.test import APIClient

from accounts.models import Membership
from tests.factories import ClinicFactory, LesionFactory, MembershipFactory, PatientFactory, UserFactory

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
