"""Image bytes for the tests: a real dermoscopic photo (tests/fixtures), drawn and synthetic lesions, and pictures
that are not for the classifier (a screenshot, a letter)."""

import io
from pathlib import Path

import numpy as np
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image, ImageDraw, ImageFont

from inference.training.synthetic import enlarge_lesion, synthetic_lesion_photo


def lesion_photo(size=(200, 150), *, lesion_scale: float = 1.0, mode: str = "RGB") -> Image.Image:
    width, height = size
    image = Image.new("RGB", size, (224, 180, 160))
    draw = ImageDraw.Draw(image)
    rx, ry = width * 0.18 * lesion_scale, height * 0.2 * lesion_scale
    cx, cy = width / 2, height / 2
    draw.ellipse((cx - rx, cy - ry, cx + rx, cy + ry), fill=(110, 70, 50))
    draw.ellipse((cx - rx * 0.4, cy - ry * 0.5, cx + rx * 0.3, cy + ry * 0.2), fill=(70, 40, 30))
    return image.convert(mode) if mode != "RGB" else image


def encode(image: Image.Image, fmt: str = "JPEG", **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def jpeg_bytes(size=(200, 150), **options) -> bytes:
    """A photo the worker classifies: textured skin with a soft-edged lesion (the flat drawing of lesion_photo is
    held back by the photo check as not a dermoscopic photo)."""
    photo, _ = synthetic_lesion_photo(width=size[0], height=size[1], seed=7)
    return encode(Image.fromarray(photo), "JPEG", **options)


REAL_PHOTO = Path(__file__).parent / "fixtures" / "ham10000" / "ISIC_0024358.jpg"


def real_lesion_photo(*, lesion_scale: float = 1.0) -> Image.Image:
    """A real dermoscopic photo (tests/fixtures/ham10000), its annotated lesion enlarged about its centre by
    lesion_scale over the same skin."""
    photo = np.asarray(Image.open(REAL_PHOTO).convert("RGB"))
    if lesion_scale != 1.0:
        outline = np.asarray(Image.open(REAL_PHOTO.with_name(f"{REAL_PHOTO.stem}_segmentation.png"))) >= 128
        photo = enlarge_lesion(photo, outline, factor=lesion_scale)
    return Image.fromarray(photo)


def photo_bytes(*, lesion_scale: float = 1.0) -> bytes:
    return encode(real_lesion_photo(lesion_scale=lesion_scale), "JPEG", quality=95)


def upload(name: str = "lesion.jpg", *, lesion_scale: float = 1.0, content: bytes | None = None):
    data = content if content is not None else photo_bytes(lesion_scale=lesion_scale)
    return SimpleUploadedFile(name, data, content_type="image/jpeg")


def dashboard_screenshot() -> Image.Image:
    """A browser window showing a list of patients with their scores, as a phone might photograph the screen."""
    screen = Image.new("RGB", (1366, 768), (250, 250, 252))
    draw = ImageDraw.Draw(screen)
    draw.rectangle((0, 0, 1366, 40), fill=(222, 225, 230))
    draw.rounded_rectangle((12, 8, 700, 32), radius=10, fill="white")
    draw.text((24, 12), "https://skintrack.example.org/", fill=(60, 60, 60), font=ImageFont.load_default(size=14))
    draw.rectangle((0, 40, 1366, 90), fill=(17, 94, 89))
    draw.text((20, 52), "Needs attention", fill="white", font=ImageFont.load_default(size=26))
    for row in range(14):
        top = 110 + row * 45
        draw.line((20, top + 40, 1346, top + 40), fill=(220, 220, 224))
        draw.text((30, top + 10), f"Patient {row + 1} · back, left shoulder", fill=(30, 30, 30))
        draw.rounded_rectangle((900, top + 6, 1080, top + 32), radius=12, fill=(190, 40, 40))
        draw.text((912, top + 10), f"Malignancy {40 + row}%", fill="white")
    return screen


def letter() -> Image.Image:
    page = Image.new("RGB", (620, 877), "white")
    draw = ImageDraw.Draw(page)
    draw.text((50, 40), "Referral letter", fill="black", font=ImageFont.load_default(size=30))
    for line in range(30):
        draw.text((50, 110 + line * 24), "Dear colleague, thank you for seeing this patient about " * 2, fill="black")
    return page
