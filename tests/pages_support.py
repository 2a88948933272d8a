"""Shared by the page tests and the browser tests: textured lesion photos and real prediction rows."""

from datetime import timedelta

from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone
from PIL import Image

from inference.serving.labels import CLASSES
from inference.training.synthetic import enlarge_lesion, synthetic_lesion_photo
from lesions.models import LesionImage, ModelVersion, Prediction
from lesions.services import add_lesion_image
from tests.images import encode


def textured_lesion_photo(*, lesion_scale: float = 1.0) -> Image.Image:
    """inference's synthetic lesion on textured skin (the skin carries the alignment), enlarged about its centre
    by lesion_scale."""
    photo, mask = synthetic_lesion_photo(seed=1)
    if lesion_scale != 1.0:
        photo = enlarge_lesion(photo, mask, factor=lesion_scale)
    return Image.fromarray(photo)


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


def measured_compare_page(client, lesion, params: dict | None = None):
    """The compare page once the worker has measured the pair: the first answer must say it is queued (a page never
    measures), then the worker's task runs, as the analysis queue would run it, and the page is asked again."""
    from lesions.tasks import measure_pair_task

    url = reverse("lesion-compare", args=[lesion.pk])
    first = client.get(url, params or {})
    assert first.status_code == 200 and first.context["queued"], "the page measured inside the request"
    assert "<strong>Measuring.</strong>" in first.content.decode()
    measure_pair_task(first.context["before"].pk, first.context["after"].pk)
    response = client.get(url, params or {})
    assert "queued" not in response.context
    return response


def days_ago(days: int):
    return timezone.now() - timedelta(days=days)
