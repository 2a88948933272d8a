"""Settings come from the environment: embedded defaults, production services when named, a clean deploy check."""

import json
import os
import secrets
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

ROOT = Path(__file__).resolve().parent.parent
PRINT_SETTINGS = """
import django, json
django.setup()
from django.conf import settings as s
print(json.dumps({
    "db": s.DATABASES["default"]["ENGINE"], "db_name": str(s.DATABASES["default"]["NAME"]),
    "media": s.STORAGES["default"]["BACKEND"],
    "media_options": {key: str(value) for key, value in s.STORAGES["default"]["OPTIONS"].items()},
    "email": s.EMAIL_BACKEND, "broker": s.CELERY_BROKER_URL,
}))
"""


def settings_under(environment: dict[str, str], module: str = "skintrack.settings.local") -> dict:
    clean = {key: value for key, value in os.environ.items() if not key.startswith(("DATABASE_URL", "REDIS_URL"))}
    env = {**clean, "DJANGO_SETTINGS_MODULE": module, **environment}
    output = subprocess.run(
        [sys.executable, "-c", PRINT_SETTINGS], cwd=ROOT, env=env, capture_output=True, text=True, check=True
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


def test_check_deploy_is_clean_with_production_settings():
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "skintrack.settings.production"}
    env["DJANGO_SECRET_KEY"] = secrets.token_urlsafe(50)
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout



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
