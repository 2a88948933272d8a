"""Settings come from the environment: embedded defaults, production services when named, a clean deploy check."""

import json
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import boto3
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from lesions.models import LesionImage
from tests.conftest import api_client, require_service
from tests.fault_support import free_port
from tests.images import jpeg_bytes
from tests.settings_support import PRODUCTION_REQUIRED

ROOT = Path(__file__).resolve().parent.parent
PRINT_SETTINGS = """
import django, json
django.setup()
from django.conf import settings as s
from django.urls import reverse
from sharing.links import absolute_url
print(json.dumps({
    "db": s.DATABASES["default"]["ENGINE"], "db_name": str(s.DATABASES["default"]["NAME"]),
    "media": s.STORAGES["default"]["BACKEND"],
    "media_options": {key: str(value) for key, value in s.STORAGES["default"]["OPTIONS"].items()},
    "email": s.EMAIL_BACKEND, "broker": s.CELERY_BROKER_URL, "base_url": s.SKINTRACK_BASE_URL,
    "emailed_home_link": absolute_url(reverse("home")),
}))
"""


def environment_with(environment: dict[str, str], module: str) -> dict[str, str]:
    """This process's environment without anything naming a service or the port, plus `environment`."""
    clean = {key: value for key, value in os.environ.items() if key not in {*PRODUCTION_REQUIRED, "PORT"}}
    return {**clean, "DJANGO_SETTINGS_MODULE": module, **environment}


def settings_under(environment: dict[str, str], module: str = "skintrack.settings.local") -> dict:
    output = subprocess.run(
        [sys.executable, "-c", PRINT_SETTINGS],
        cwd=ROOT,
        env=environment_with(environment, module),
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return json.loads(output.strip().splitlines()[-1])


def test_embedded_defaults_need_no_service():
    embedded = settings_under({})
    assert embedded["db"] == "django.db.backends.sqlite3"
    assert embedded["db_name"] == str(ROOT / "var" / "skintrack.sqlite3")
    assert embedded["media"] == "django.core.files.storage.FileSystemStorage"
    assert embedded["media_options"]["location"] == str(ROOT / "var" / "media")
    assert embedded["email"] == "django.core.mail.backends.filebased.EmailBackend"
    assert embedded["broker"] == "filesystem://"


def test_environment_names_production_services():
    named = settings_under(
        {
            "DATABASE_URL": "postgres://u:p@db.example:5432/skintrack",
            "AWS_STORAGE_BUCKET_NAME": "media",
            "EMAIL_HOST": "smtp.example",
            "REDIS_URL": "redis://cache.example:6379/0",
        }
    )
    assert named["db"] == "django.db.backends.postgresql"
    assert named["media"] == "storages.backends.s3.S3Storage"
    assert named["media_options"]["default_acl"] == "private"
    assert named["media_options"]["querystring_auth"] == "True"
    assert named["email"] == "django.core.mail.backends.smtp.EmailBackend"
    assert named["broker"] == "redis://cache.example:6379/0"


def test_emailed_links_follow_the_port_make_run_serves_on():
    assert settings_under({})["emailed_home_link"] == "http://127.0.0.1:8000/"
    assert settings_under({"PORT": "8123"})["emailed_home_link"] == "http://127.0.0.1:8123/"
    named = settings_under({"PORT": "8123", "SKINTRACK_BASE_URL": "https://skin.clinic.example"})
    assert named["emailed_home_link"] == "https://skin.clinic.example/"


def test_a_port_that_is_no_number_is_named_in_the_error():
    result = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        cwd=ROOT,
        env=environment_with({"PORT": "eighty"}, "skintrack.settings.local"),
        capture_output=True,
        text=True,
    )
    assert result.returncode != 0
    assert result.stderr.strip().splitlines()[-1] == (
        "django.core.exceptions.ImproperlyConfigured: PORT must be a port number such as 8000, not 'eighty'."
    )


@pytest.mark.parametrize("missing", sorted(PRODUCTION_REQUIRED))
def test_production_refuses_to_start_without_a_required_variable(missing):
    environment = {name: value for name, value in PRODUCTION_REQUIRED.items() if name != missing}
    result = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        cwd=ROOT,
        env=environment_with(environment, "skintrack.settings.production"),
        capture_output=True,
        text=True,
    )
    assert result.returncode != 0
    message = result.stderr.strip().splitlines()[-1]
    assert message.startswith("django.core.exceptions.ImproperlyConfigured:"), result.stderr
    assert f"not set: {missing}." in message


def test_production_runs_on_the_services_it_is_given():
    production = settings_under(PRODUCTION_REQUIRED, module="skintrack.settings.production")
    assert production["db"] == "django.db.backends.postgresql"
    assert production["media"] == "storages.backends.s3.S3Storage"
    assert production["email"] == "django.core.mail.backends.smtp.EmailBackend"
    assert production["broker"] == PRODUCTION_REQUIRED["REDIS_URL"]
    assert production["base_url"] == PRODUCTION_REQUIRED["SKINTRACK_BASE_URL"]


def test_check_deploy_is_clean_with_production_settings():
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=environment_with(PRODUCTION_REQUIRED, "skintrack.settings.production"),
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_the_image_build_collects_static_files_without_secrets_or_services(tmp_path):
    """The Dockerfile's collectstatic runs before any secret or service exists."""
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "RUN DJANGO_SETTINGS_MODULE=skintrack.settings.build python manage.py collectstatic" in dockerfile
    collect = (
        "import django; django.setup(); from django.conf import settings; from django.core.management import "
        f"call_command; settings.STATIC_ROOT = {str(tmp_path)!r}; call_command('collectstatic', interactive=False)"
    )
    result = subprocess.run(
        [sys.executable, "-c", collect],
        cwd=ROOT,
        env=environment_with({}, "skintrack.settings.build"),
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    # Hashed names (what production's manifest storage serves), Swagger UI's among them.
    manifest = json.loads((tmp_path / "staticfiles.json").read_text())["paths"]
    assert manifest["drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js"] != (
        "drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js"
    )


REQUEST_SECURITY = """
import django, json
django.setup()
from django.test import RequestFactory
request = RequestFactory().get("/", HTTP_X_FORWARDED_PROTO="https", HTTP_X_FORWARDED_FOR="203.0.113.5")
print(json.dumps(request.is_secure()))
"""


@pytest.mark.parametrize(("proxies", "trusted"), [("", False), ("0", False), ("1", True)])
def test_production_trusts_x_forwarded_proto_only_behind_trusted_proxies(proxies, trusted):
    env = environment_with(PRODUCTION_REQUIRED, "skintrack.settings.production")
    env.pop("SKINTRACK_TRUSTED_PROXY_COUNT", None)
    if proxies:
        env["SKINTRACK_TRUSTED_PROXY_COUNT"] = proxies
    result = subprocess.run(
        [sys.executable, "-c", REQUEST_SECURITY], cwd=ROOT, env=env, capture_output=True, text=True, check=True
    )
    assert json.loads(result.stdout.strip().splitlines()[-1]) is trusted


@pytest.fixture
def moto_s3():
    """A real S3-compatible server on loopback (moto's), standing in for MinIO, which does not install here."""
    program = Path(sys.executable).with_name("moto_server")
    require_service(program.exists(), "moto_server is not installed (pip install 'moto[server]')")
    port = free_port()
    server = subprocess.Popen(
        [program, "-H", "127.0.0.1", "-p", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    endpoint = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(endpoint, timeout=1)
                break
            except OSError:
                time.sleep(0.1)
        yield endpoint
    finally:
        server.terminate()
        server.wait(timeout=10)


def test_media_in_a_private_bucket_through_django_storages(people, settings, moto_s3):
    credentials = {"aws_access_key_id": "test", "aws_secret_access_key": "test", "region_name": "us-east-1"}
    s3 = boto3.client("s3", endpoint_url=moto_s3, **credentials)
    s3.create_bucket(Bucket="skintrack-media")
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": {
                "bucket_name": "skintrack-media",
                "endpoint_url": moto_s3,
                "access_key": "test",
                "secret_key": "test",
                "region_name": "us-east-1",
                "default_acl": "private",
                "querystring_auth": True,
                "signature_version": "s3v4",
                "file_overwrite": False,
            },
        },
    }
    client = api_client(people.clinician_a)
    url = f"/api/lesions/{people.lesion_a.pk}/images/"
    refused = client.post(url, {"image": SimpleUploadedFile("x.jpg", b"not an image", content_type="image/jpeg")})
    assert refused.status_code == 400
    assert s3.list_objects_v2(Bucket="skintrack-media").get("KeyCount", 0) == 0

    answer = client.post(url, {"image": SimpleUploadedFile("a.jpg", jpeg_bytes(), content_type="image/jpeg")})
    assert answer.status_code == 201
    image = LesionImage.objects.get(pk=answer.json()["id"])
    keys = {item["Key"] for item in s3.list_objects_v2(Bucket="skintrack-media")["Contents"]}
    assert keys == {image.image.name, image.thumbnail.name}

    redirect = client.get(f"/api/images/{image.pk}/file/")
    assert redirect.status_code == 302
    assert "X-Amz-Signature=" in redirect["Location"]
    assert "no-store" in redirect["Cache-Control"]
    with urllib.request.urlopen(redirect["Location"]) as signed:
        assert signed.read()[:2] == b"\xff\xd8"
        assert signed.headers["Cache-Control"] == "no-store"
    assert api_client(people.clinician_b).get(f"/api/images/{image.pk}/file/").status_code == 404
