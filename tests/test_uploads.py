"""Upload validation with real image bytes: every refusal is a clear 400 that leaves no row and no file."""

import hashlib
import io
import struct
import zlib

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from lesions.models import LesionImage
from tests.conftest import api_client, stored_files
from tests.images import encode, jpeg_bytes, lesion_photo


def post_image(people, content: bytes, name: str = "photo.jpg"):
    upload = SimpleUploadedFile(name, content, content_type="image/jpeg")
    return api_client(people.clinician_a).post(f"/api/lesions/{people.lesion_a.pk}/images/", {"image": upload})


def png_bomb(side: int) -> bytes:
    """A valid greyscale PNG of side x side pixels that compresses to a few kilobytes."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    rows = zlib.compress(b"".join(b"\x00" + bytes(side) for _ in range(side)), 9)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0))
        + chunk(b"IDAT", rows)
        + chunk(b"IEND", b"")
    )


def gif_bytes() -> bytes:
    frames = [lesion_photo(), lesion_photo(lesion_scale=1.2)]
    return encode(frames[0], "GIF", save_all=True, append_images=frames[1:])


REFUSED = {
    "not an image": (b"hello, this is text", "not an image"),
    "empty": (b"", "empty"),
    "truncated jpeg": (jpeg_bytes()[:600], "damaged"),
    "too small": (encode(lesion_photo((64, 63))), "at least 64x64"),
    "1x1": (encode(lesion_photo((1, 1))), "at least 64x64"),
    "html named jpg": (b"<html><script>alert(1)</script></html>", "not an image"),
    "svg": (b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>', "not an image"),
    "pdf": (b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF", "not an image"),
    "gif": (gif_bytes(), "GIF file"),
    "decompression bomb": (png_bomb(8000), "too many pixels"),
}


@pytest.mark.parametrize("case", REFUSED)
def test_refused_upload_leaves_nothing_behind(people, isolated_media, case, settings):
    settings.SKINTRACK_MAX_UPLOAD_PIXELS = 40_000_000
    content, words = REFUSED[case]
    answer = post_image(people, content)
    assert answer.status_code == 400, answer.content
    assert words in " ".join(answer.json()["image"])
    assert LesionImage.objects.count() == 0
    assert stored_files(isolated_media) == []


def test_a_30_mb_file_is_refused(people, isolated_media):
    # Refused by its Content-Length, before the body is read (tests/test_upload_limits.py).
    answer = post_image(people, jpeg_bytes() + bytes(30 * 1024 * 1024))
    assert answer.status_code == 413
    assert answer.json()["detail"] == "The upload is 30.0 MB; photos can be at most 20 MB. Choose a smaller photo."
    assert LesionImage.objects.count() == 0
    assert stored_files(isolated_media) == []


def test_file_over_the_byte_limit_is_refused_before_decoding(people, isolated_media, settings):
    settings.SKINTRACK_MAX_UPLOAD_BYTES = 50_000
    answer = post_image(people, jpeg_bytes((1200, 900)) + bytes(60_000))
    assert answer.status_code == 400
    assert "at most" in answer.json()["image"][0]
    assert stored_files(isolated_media) == []


def stored_image(people, content: bytes) -> tuple[LesionImage, Image.Image]:
    answer = post_image(people, content)
    assert answer.status_code == 201, answer.content
    image = LesionImage.objects.get(pk=answer.json()["id"])
    with image.image.open("rb") as stored:
        return image, Image.open(io.BytesIO(stored.read()))


def test_exif_orientation_is_applied_and_gps_stripped(people):
    photo = lesion_photo((200, 100))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise on display
    exif.get_ifd(0x8825).update({1: "N", 2: (52.0, 22.0, 0.0), 3: "E", 4: (4.0, 53.0, 0.0)})
    exif.get_ifd(0x8769)[0x9003] = "2024:05:06 07:08:09"
    image, stored = stored_image(people, encode(photo, "JPEG", exif=exif))
    assert (image.width, image.height) == (100, 200) == stored.size
    assert not stored.getexif()
    assert b"Exif" not in image.image.open("rb").read()
    assert image.captured_at.isoformat().startswith("2024-05-06T07:08:09")


@pytest.mark.parametrize(
    "content",
    [
        pytest.param(encode(lesion_photo(mode="CMYK"), "JPEG"), id="cmyk jpeg"),
        pytest.param(encode(lesion_photo().convert("I;16"), "PNG"), id="16-bit png"),
        pytest.param(encode(lesion_photo().convert("P"), "PNG", transparency=0), id="palette png with transparency"),
        pytest.param(encode(lesion_photo().convert("RGBA"), "WEBP"), id="webp with alpha"),
        pytest.param(jpeg_bytes() + b"PK\x03\x04" + bytes(100), id="jpeg zip polyglot"),
    ],
)
def test_unusual_but_real_photos_are_stored_as_plain_rgb_jpeg(people, content):
    image, stored = stored_image(people, content)
    assert stored.format == "JPEG" and stored.mode == "RGB"
    assert (image.width, image.height) == stored.size
    assert b"PK\x03\x04" not in image.image.open("rb").read()


def test_thumbnail_and_checksum(people):
    image, _ = stored_image(people, jpeg_bytes((1200, 900)))
    assert Image.open(image.thumbnail.open("rb")).size == (320, 240)
    assert image.sha256 == hashlib.sha256(image.image.open("rb").read()).hexdigest()
