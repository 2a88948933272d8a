"""Uploads are refused by size before they are written to disk: a request declaring more than one photo and its
form is answered 413 unread, and a file past SKINTRACK_MAX_UPLOAD_BYTES is never stored past that bound."""

import io
import os

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.files.uploadhandler import TemporaryFileUploadHandler
from django.http.multipartparser import MultiPartParser
from django.test import Client
from django.test.client import BOUNDARY, MULTIPART_CONTENT, encode_multipart

from lesions.models import LesionImage
from lesions.upload_limits import BoundedUploadHandler, RefusedUpload
from tests.conftest import api_client, stored_files
from tests.images import jpeg_bytes

MB = 1024 * 1024


class UnreadableBody(io.RawIOBase):
    """A request body that must not be read: the answer has to come from the headers alone."""

    def read(self, *args):
        raise AssertionError("the body of an oversized upload was read")

    readline = read


@pytest.fixture
def upload_temp_dir(settings, tmp_path):
    folder = tmp_path / "uploads"
    folder.mkdir()
    settings.FILE_UPLOAD_TEMP_DIR = str(folder)
    settings.FILE_UPLOAD_MAX_MEMORY_SIZE = 0  # every upload goes to a temporary file, where it can be seen
    return folder


def declared_upload(size: int) -> dict:
    return {"CONTENT_TYPE": MULTIPART_CONTENT, "CONTENT_LENGTH": str(size), "wsgi.input": UnreadableBody()}


def test_the_api_refuses_a_400_mb_upload_by_its_declared_length(people, isolated_media, upload_temp_dir):
    client = api_client(people.clinician_a)
    answer = client.generic("POST", f"/api/lesions/{people.lesion_a.pk}/images/", **declared_upload(400 * MB))
    assert answer.status_code == 413
    assert answer.json()["detail"] == ("The upload is 400.0 MB; photos can be at most 20 MB. Choose a smaller photo.")
    assert LesionImage.objects.count() == 0
    assert stored_files(isolated_media) == [] and list(upload_temp_dir.iterdir()) == []


def test_the_upload_page_refuses_a_400_mb_upload_by_its_declared_length(people, isolated_media, upload_temp_dir):
    client = Client()
    client.force_login(people.clinician_a)
    answer = client.generic("POST", f"/lesions/{people.lesion_a.pk}/photos/", **declared_upload(400 * MB))
    assert answer.status_code == 413
    assert "photos can be at most 20 MB" in answer.content.decode()
    assert LesionImage.objects.count() == 0
    assert list(upload_temp_dir.iterdir()) == []


def test_a_photo_under_the_bound_is_still_accepted(people, upload_temp_dir):
    answer = api_client(people.clinician_a).post(
        f"/api/lesions/{people.lesion_a.pk}/images/",
        {"image": SimpleUploadedFile("a.jpg", jpeg_bytes(), content_type="image/jpeg")},
    )
    assert answer.status_code == 201


def test_a_file_just_past_the_bound_is_refused_with_its_size(people, settings, isolated_media, upload_temp_dir):
    settings.SKINTRACK_MAX_UPLOAD_BYTES = 1 * MB
    content = jpeg_bytes() + os.urandom(MB)  # within the request's allowance, past the photo's bound
    answer = api_client(people.clinician_a).post(
        f"/api/lesions/{people.lesion_a.pk}/images/",
        {"image": SimpleUploadedFile("big.jpg", content, content_type="image/jpeg")},
    )
    assert answer.status_code == 400
    assert "photos can be at most 1 MB" in " ".join(answer.json()["image"])
    assert LesionImage.objects.count() == 0 and stored_files(isolated_media) == []


def test_the_handler_stops_storing_a_file_at_the_bound(settings, upload_temp_dir):
    settings.SKINTRACK_MAX_UPLOAD_BYTES = 1 * MB
    body = encode_multipart(BOUNDARY, {"image": SimpleUploadedFile("big.jpg", os.urandom(3 * MB))})
    storing = TemporaryFileUploadHandler()
    meta = {"CONTENT_TYPE": MULTIPART_CONTENT, "CONTENT_LENGTH": str(len(body))}
    _, files = MultiPartParser(meta, io.BytesIO(body), [BoundedUploadHandler(), storing]).parse()
    refused = files["image"]
    assert isinstance(refused, RefusedUpload) and refused.size == 3 * MB and refused.read() == b""
    # The temporary file the storing handler began holds at most the bound, not the 3 MB that arrived.
    assert os.path.getsize(storing.file.temporary_file_path()) <= 1 * MB
