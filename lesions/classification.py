"""Classifying stored photos with the shipped model, and recording which model version said what."""

import functools
import logging

from django.conf import settings
from django.db import transaction

from inference import DEFAULT_MODEL_PATH, Classifier
from inference import Prediction as ModelPrediction
from lesions.models import LesionImage, ModelVersion, Prediction

logger = logging.getLogger(__name__)


@functools.cache
def load_classifier(path: str = "") -> Classifier:
    """The model, loaded once per worker process."""
    return Classifier.load(path or settings.SKINTRACK_MODEL_PATH or DEFAULT_MODEL_PATH)


def model_version_for(classifier: Classifier) -> ModelVersion:
    version, _ = ModelVersion.objects.get_or_create(
        version=classifier.version,
        defaults={"name": classifier.name, "sha256": classifier.sha256, "metrics": classifier.metrics},
    )
    return version


@transaction.atomic
def activate_model_version(classifier: Classifier) -> ModelVersion:
    version = model_version_for(classifier)
    ModelVersion.objects.exclude(pk=version.pk).filter(is_active=True).update(is_active=False)
    if not version.is_active:
        version.is_active = True
        version.save(update_fields=["is_active"])
    return version


def store_prediction(*, image: LesionImage, version: ModelVersion, result: ModelPrediction) -> Prediction:
    """Save one image's prediction; running it again for the same model version updates, never duplicates."""
    with transaction.atomic():
        prediction, _ = Prediction.objects.update_or_create(
            image=image,
            model_version=version,
            defaults={
                "probabilities": result.probabilities,
                "top": [list(pair) for pair in result.top],
                "malignancy": result.malignancy,
                "dx_type": result.dx_type,
            },
        )
        LesionImage.objects.filter(pk=image.pk).update(status=LesionImage.Status.DONE, error="")
    return prediction


def classify_image(*, image_pk: int) -> Prediction | None:
    image = LesionImage.objects.filter(pk=image_pk).first()
    if image is None:
        logger.info("Image %s was deleted before it could be classified.", image_pk)
        return None
    LesionImage.objects.filter(pk=image_pk).update(status=LesionImage.Status.RUNNING, error="")
    try:
        classifier = load_classifier()
        with image.image.open("rb") as stored:
            [result] = classifier.predict([stored.read()])
    except Exception as error:
        logger.exception("Classifying image %s failed.", image_pk)
        mark_failed(image_pk=image_pk, error=error)
        return None
    return store_prediction(image=image, version=model_version_for(classifier), result=result)


def mark_failed(*, image_pk: int, error: BaseException) -> None:
    message = f"The classifier could not process this photo: {error}"
    LesionImage.objects.filter(pk=image_pk).update(status=LesionImage.Status.FAILED, error=message)
