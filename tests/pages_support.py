"""Shared by the page tests and the browser tests: textured lesion photos and real prediction rows."""

import numpy as np
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image, ImageFilter

from inference.labels import CLASSES
from lesions.models import LesionImage, ModelVersion, Prediction
from lesions.services import add_lesion_image
from tests.images import encode, lesion_photo

PHOTO_SIZE = (300, 225)


def textured_lesion_photo(*, lesion_scale: float = 1.0, size=PHOTO_SIZE) -> Image.Image:
    """tests.images' lesion on skin with a fixed fine texture, so registration has skin to align on (a flat
    background matches itself at any zoom)."""
    photo = np.asarray(lesion_photo(size, lesion_scale=lesion_scale)).astype(np.float64)
    rng = np.random.default_rng(7)
    grain = Image.fromarray((rng.normal(0, 1, size[::-1]) * 40 + 128).clip(0, 255).astype(np.uint8))
    texture = np.asarray(grain.filter(ImageFilter.GaussianBlur(3))).astype(np.float64) - 128
    return Image.fromarray((photo + 2.0 * texture[..., None]).clip(0, 255).astype(np.uint8))


def photo_bytes(*, lesion_scale: float = 1.0) -> bytes:
    return encode(textured_lesion_photo(lesion_scale=lesion_scale), "JPEG", quality=95)


def upload(name: str = "lesion.jpg", *, lesion_scale: float = 1.0, content: bytes | None = None):
    data = content if content is not None else photo_bytes(lesion_scale=lesion_scale)
    return SimpleUploadedFile(name, data, content_type="image/jpeg")


def add_photo(lesion, user, *, lesion_scale: float = 1.0, captured_at=None) -> LesionImage:
    return add_lesion_image(
        lesion=lesion, upload=upload(lesion_scale=lesion_scale), uploaded_by=user, captured_at=captured_at
    )


def record_prediction(image: LesionImage, *, top: str = "nv", top_probability: float = 0.7) -> Prediction:
    """A prediction row as the worker stores one: the named class most likely, the rest shared out."""
    version, _ = ModelVersion.objects.get_or_create(
        version="test-1.0", defaults={"name": "skin-lite0", "sha256": "0" * 64, "is_active": True}
    )
    rest = (1 - top_probability) / (len(CLASSES) - 1)
    probabilities = {code: (top_probability if code == top else rest) for code in CLASSES}
    ranked = sorted(probabilities.items(), key=lambda item: -item[1])[:2]
    prediction = Prediction.objects.create(
        image=image,
        model_version=version,
        probabilities=probabilities,
        top=[list(pair) for pair in ranked],
        malignancy=sum(probabilities[code] for code in ("mel", "bcc", "akiec")),
        dx_type={"histo": 0.6, "follow_up": 0.3, "consensus": 0.1, "confocal": 0.0},
    )
    LesionImage.objects.filter(pk=image.pk).update(status=LesionImage.Status.DONE)
    return prediction
