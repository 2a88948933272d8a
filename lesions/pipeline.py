"""Classifying stored photos with the served model, and recording which model version said what.

The worker's task and the management commands call these functions. The model is loaded once per process.
"""

import functools
import io
import json
import logging
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import islice
from pathlib import Path
from typing import TypeVar

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.core.files.base import ContentFile
from django.db import DatabaseError, transaction
from django.db.models import Q
from django.utils import timezone
from PIL import Image

from inference import DEFAULT_MODEL_PATH, Classifier, ModelLoadError
from inference import Prediction as ModelPrediction
from inference.change import measure_lesion
from inference.preprocessing import load_rgb
from inference.segmentation import segment_lesion
from lesions import comparison, photo_gate
from lesions.models import LesionImage, ModelVersion, Prediction

logger = logging.getLogger(__name__)

# Errors worth another try later (the database or a storage server briefly away); any other error is final.
TRANSIENT_ERRORS = (DatabaseError, ConnectionError, TimeoutError)

Item = TypeVar("Item")


class ModelVersionConflict(Exception):
    """A model file claims a version that is already registered with a different file."""


# Outlines and measurements need no finer detail than this: a 12-megapixel phone photo measured at full size held
# the worker for about 9 s. The stored mask is at this size; pages and comparisons scale it to the photo.
OUTLINE_LONG_SIDE = 1024


def initial_model_path() -> Path:
    """The model a fresh installation serves until another version is activated: SKINTRACK_MODEL_PATH, else the
    shipped one."""
    return Path(settings.SKINTRACK_MODEL_PATH or DEFAULT_MODEL_PATH)


@functools.cache
def load_classifier(path: Path, threads: int) -> Classifier:
    """Each model file is loaded once per process. A failed load is not remembered, so a repaired file is used
    by the next task without restarting the worker."""
    return Classifier.load(path, threads=threads)


def served_version() -> ModelVersion:
    """The version new photos are classified with: the active one (`register_model --activate` changes it for the
    next photo, without restarting anything); on a fresh installation the initial model, registered and activated."""
    active = ModelVersion.objects.filter(is_active=True).first()
    if active is None:
        initial = load_classifier(initial_model_path(), settings.SKINTRACK_MODEL_THREADS)
        return register_model_version(classifier=initial)
    return active


def serving_model() -> tuple[Classifier, ModelVersion]:
    """The active version's classifier, checked against the file it was registered with."""
    version = served_version()
    # A file recorded on another machine (a copied database, a moved checkout) is found again by its version.
    recorded = Path(version.file_path) if version.file_path else None
    path = recorded if recorded is not None and recorded.is_file() else model_path_for(version=version.version)
    classifier = load_classifier(path, settings.SKINTRACK_MODEL_THREADS)
    if classifier.sha256 != version.sha256:
        raise ModelVersionConflict(
            f"the active model version {version.version} was registered with file checksum {version.sha256}, but "
            f"{path} now has {classifier.sha256}: register the new file under a new version"
        )
    return classifier, version


def served_classifier() -> Classifier:
    return serving_model()[0]


def model_path_for(*, version: str) -> Path:
    """The serving file of a model version: a path to an .onnx file, or a version named in the metadata of the
    served model or of a model in the shipped artefacts folder."""
    if version.endswith(".onnx"):
        return Path(version)
    candidates = dict.fromkeys([initial_model_path(), *sorted(DEFAULT_MODEL_PATH.parent.glob("*.onnx"))])
    for path in candidates:
        try:
            if json.loads(path.with_suffix(".json").read_text()).get("version") == version:
                return path
        except (OSError, ValueError):
            continue
    known = ", ".join(str(path) for path in candidates) or "none"
    raise ModelLoadError(f"no model file with version {version!r} (looked at: {known})")


def classifier_for(*, version: str = "", threads: int = 0) -> Classifier:
    """The classifier of a model version (see model_path_for), or the served one when none is named; `threads`
    defaults to the setting."""
    if not version:
        return served_classifier()
    return load_classifier(model_path_for(version=version), threads or settings.SKINTRACK_MODEL_THREADS)


def register_model_version(*, classifier: Classifier, activate: bool = False) -> ModelVersion:
    """The record of a loaded model, created from its metadata when first seen. It becomes the active version
    when asked, or when no version is active yet, so that a fresh installation serves the shipped model."""
    with transaction.atomic():
        version, _ = ModelVersion.objects.get_or_create(
            version=classifier.version,
            defaults={
                "name": classifier.name,
                "sha256": classifier.sha256,
                "metrics": classifier.metrics,
                "file_path": str(classifier.path.resolve()),
            },
        )
        if not version.file_path:
            version.file_path = str(classifier.path.resolve())
            version.save(update_fields=["file_path"])
        if version.sha256 != classifier.sha256:
            raise ModelVersionConflict(
                f"model version {version.version} is registered with file checksum {version.sha256}, but "
                f"{classifier.path} has {classifier.sha256}: export the new file under a new version"
            )
        if not version.is_active and (activate or not ModelVersion.objects.filter(is_active=True).exists()):
            ModelVersion.objects.filter(is_active=True).update(is_active=False)
            ModelVersion.objects.filter(pk=version.pk).update(is_active=True)
            version.is_active = True
    return version


def read_photo(image: LesionImage) -> Image.Image:
    with image.image.open("rb") as stored:
        return load_rgb(stored.read())


def store_predictions(*, version: ModelVersion, results: list[tuple[LesionImage, ModelPrediction]]) -> None:
    """Save predictions and mark their images done. Saving again for the same model version updates the
    prediction in place, so a repeated task or a re-run rescore never duplicates one."""
    predictions = [
        Prediction(
            image=image,
            model_version=version,
            probabilities=result.probabilities,
            top=[list(pair) for pair in result.top],
            malignancy=result.malignancy,
            dx_type=result.dx_type,
        )
        for image, result in results
    ]
    with transaction.atomic():
        Prediction.objects.bulk_create(
            predictions,
            update_conflicts=True,
            unique_fields=["image", "model_version"],
            update_fields=["probabilities", "top", "malignancy", "dx_type"],
        )
        LesionImage.objects.filter(pk__in=[image.pk for image, _ in results]).update(
            status=LesionImage.Status.DONE, error=""
        )


def describe_failure(error: BaseException) -> str:
    """What a clinician reads when a photo could not be classified."""
    if isinstance(error, ModelLoadError | ModelVersionConflict):
        return f"The classification model could not be loaded, so this photo was not classified: {error}"
    if isinstance(error, TRANSIENT_ERRORS):
        return f"Classification was retried several times and gave up; a service it needs was unavailable: {error}"
    if isinstance(error, SoftTimeLimitExceeded):
        return "Classifying this photo took too long and was stopped."
    if isinstance(error, OSError):
        return f"The stored photo could not be read: {error}"
    return f"The classifier failed on this photo ({type(error).__name__}: {error})"


@dataclass(frozen=True)
class Stage:
    """One stage of a photo's processing: the field holding its state, the queue its task runs on, and the task's
    hard time limit (a stage running longer than that was left by a dead worker: a living one would have stopped it
    and recorded the failure)."""

    name: str
    field: str
    queue: str
    time_limit_s: int


CLASSIFICATION = Stage("classification", "status", "classification", time_limit_s=30)
OUTLINE = Stage("outline", "outline_status", "analysis", time_limit_s=45)
CHANGE = Stage("change", "change_status", "analysis", time_limit_s=45)
STAGES = (CLASSIFICATION, OUTLINE, CHANGE)
# A queued stage whose queue is empty for this long lost its message (e.g. the broker was down at upload).
LOST_MESSAGE_AFTER = timedelta(minutes=2)
UNFINISHED = (LesionImage.Status.QUEUED, LesionImage.Status.RUNNING)
# A photo the photo check held back (`gated`) is finished as far as classification goes: its outline follows.
FINISHED = (LesionImage.Status.DONE, LesionImage.Status.FAILED, LesionImage.Status.GATED)


def enter_stage(image_pk: int, stage: Stage, state: str, **fields) -> bool:
    """Record a stage's new state (and any other fields); False when the photo no longer exists."""
    changes = {stage.field: state, "stage_changed_at": timezone.now(), **fields}
    return bool(LesionImage.objects.filter(pk=image_pk).update(**changes))


def stage_is(image_pk: int, stage: Stage, *states: str) -> bool:
    return LesionImage.objects.filter(pk=image_pk, **{f"{stage.field}__in": states}).exists()


def photos_running(stage: Stage) -> list[int]:
    return list(LesionImage.objects.filter(**{stage.field: LesionImage.Status.RUNNING}).values_list("pk", flat=True))


def stages_left_undone(
    *, now: datetime, idle_queues: set[str], lost_after: timedelta = LOST_MESSAGE_AFTER
) -> list[tuple[int, Stage]]:
    """(photo, stage) for each stage a worker left undone: running past its task's hard time limit, or queued for
    longer than `lost_after` while its queue holds no message. A photo merely waiting behind a backlog is
    never among them: its message is still in the queue."""
    undone = []
    for stage in STAGES:
        earlier_finished = {f"{earlier.field}__in": FINISHED for earlier in STAGES[: STAGES.index(stage)]}
        dead = Q(**{stage.field: LesionImage.Status.RUNNING}) & Q(
            stage_changed_at__lt=now - timedelta(seconds=stage.time_limit_s + 5)
        )
        lost = Q(**{stage.field: LesionImage.Status.QUEUED}) & Q(stage_changed_at__lt=now - lost_after)
        left = dead | lost if stage.queue in idle_queues else dead
        photos = LesionImage.objects.filter(left, **earlier_finished).values_list("pk", flat=True)
        undone += [(pk, stage) for pk in photos]
    return undone


@transaction.atomic
def claim_resend(*, image_pk: int, stage: Stage) -> bool:
    """Whether the safety net should send this stage again: once. A stage left undone a second time is failed with
    a message a person reads, instead of being sent round for ever."""
    image = LesionImage.objects.select_for_update().filter(pk=image_pk).first()
    if image is None or getattr(image, stage.field) in FINISHED:
        return False
    if stage.name in image.resent_stages:
        message = f"The {stage.name} of this photo was interrupted twice and was given up; upload the photo again."
        enter_stage(image_pk, stage, LesionImage.Status.FAILED, error=message)
        return False
    LesionImage.objects.filter(pk=image_pk).update(resent_stages=[*image.resent_stages, stage.name])
    return True


def mark_failed(*, image_pk: int, error: BaseException) -> None:
    enter_stage(image_pk, CLASSIFICATION, LesionImage.Status.FAILED, error=describe_failure(error))


def classify_image(*, image_pk: int) -> bool:
    """Classify one stored photo with the served model: its status goes running, then done or failed. A photo
    already classified is left as it is (a message delivered again, or sent again by the safety net).

    Transient errors propagate, for the task to retry; any other error marks the image failed with a message
    a person can read, and returns, so the worker goes on serving. A photo the photo check holds back is marked
    `gated` and gets no prediction. Answers whether the photo was classified.
    """
    if stage_is(image_pk, CLASSIFICATION, LesionImage.Status.DONE):
        return True
    if not enter_stage(image_pk, CLASSIFICATION, LesionImage.Status.RUNNING, error=""):
        logger.info("Image %s was deleted before it could be classified.", image_pk)
        return False
    image = LesionImage.objects.get(pk=image_pk)
    try:
        classifier, version = serving_model()
        photo = read_photo(image)
        if photo_gate.holds_back(image=image, photo=photo):
            return False
        [result] = classifier.predict([photo])
    except TRANSIENT_ERRORS:
        raise
    except Exception as error:
        logger.exception("Classifying image %s failed.", image_pk)
        mark_failed(image_pk=image_pk, error=error)
        return False
    store_predictions(version=version, results=[(image, result)])
    return True


def analyse_image(*, image_pk: int) -> None:
    """The analysis queue's stages of one photo: outline the lesion, then measure its change from the lesion's
    previous photo. A stage already done is not run again. Transient errors propagate for the task to retry;
    any other error fails that stage with a message, and the prediction stands."""
    if not stage_is(image_pk, OUTLINE, LesionImage.Status.DONE):
        outline_image(image_pk=image_pk)
    if not stage_is(image_pk, CHANGE, LesionImage.Status.DONE):
        measure_change(image_pk=image_pk)


def outline_image(*, image_pk: int) -> None:
    if not enter_stage(image_pk, OUTLINE, LesionImage.Status.RUNNING):
        return
    image = LesionImage.objects.get(pk=image_pk)
    run_stage(
        image_pk,
        OUTLINE,
        lambda: outline_lesion(image=image, photo=read_photo(image)),
        failure="The lesion's outline could not be measured",
    )


def run_stage(image_pk: int, stage: Stage, work: Callable[[], None], *, failure: str) -> bool:
    """Run a stage's work. Transient errors propagate for the task to retry; any other error fails the stage with
    `failure` and the error, a message a person reads, and the prediction stands. Answers whether the work ran."""
    try:
        work()
    except TRANSIENT_ERRORS:
        raise
    except Exception as error:
        logger.exception("The %s of image %s failed.", stage.name, image_pk)
        enter_stage(image_pk, stage, LesionImage.Status.FAILED, error=f"{failure}: {error}")
        return False
    return True


def mask_png(mask) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(mask.astype("uint8") * 255, mode="L").save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()


def for_outlining(photo: Image.Image) -> tuple[Image.Image, float]:
    """The photo at most OUTLINE_LONG_SIDE long, and the factor from its pixels to the stored photo's."""
    if max(photo.size) <= OUTLINE_LONG_SIDE:
        return photo, 1.0
    working = photo.copy()
    working.thumbnail((OUTLINE_LONG_SIDE, OUTLINE_LONG_SIDE), Image.Resampling.LANCZOS)
    return working, photo.width / working.width


def in_stored_pixels(measurements: dict, *, photo: Image.Image, scale: float) -> dict:
    """Lengths and areas measured on a reduced copy, in the stored photo's pixels (ratios and colours keep)."""
    diameter = measurements["longest_diameter_pixels"]
    return {
        **measurements,
        "image_width": photo.width,
        "image_height": photo.height,
        "area_pixels": round(measurements["area_pixels"] * scale**2),
        "longest_diameter_pixels": None if diameter is None else diameter * scale,
    }


def outline_lesion(*, image: LesionImage, photo: Image.Image) -> None:
    """Segment the lesion and measure it, storing the mask PNG and the measurements on the image (the outline stage
    done). A repeated run replaces the mask file."""
    working, scale = for_outlining(photo)
    mask = segment_lesion(working)
    measurements = in_stored_pixels(measure_lesion(working, mask).as_dict(), photo=photo, scale=scale)
    previous_mask = image.mask.name
    image.mask.save(f"{uuid.uuid4().hex}.png", ContentFile(mask_png(mask)), save=False)
    storage = image.mask.storage
    with transaction.atomic():
        recorded = enter_stage(
            image.pk, OUTLINE, LesionImage.Status.DONE, mask=image.mask.name, measurements=measurements
        )
        stale = previous_mask if recorded else image.mask.name  # not recorded: the image was deleted meanwhile
        if stale:
            transaction.on_commit(lambda: storage.delete(stale))


def measure_change(*, image_pk: int) -> None:
    """Compare the outlined photo with the lesion's previous one (the change stage); it needs the outline."""
    if not enter_stage(image_pk, CHANGE, LesionImage.Status.RUNNING):
        return
    image = LesionImage.objects.select_related("lesion").get(pk=image_pk)
    if not image.mask:
        message = "The change since the last photo was not measured: the lesion's outline is missing."
        enter_stage(image_pk, CHANGE, LesionImage.Status.FAILED, error=image.error or message)
        return
    measured = run_stage(
        image_pk,
        CHANGE,
        lambda: comparison.record_change_from_previous(image),
        failure="The change since the last photo could not be measured",
    )
    if measured:
        enter_stage(image_pk, CHANGE, LesionImage.Status.DONE)


def predict_in_batches(
    items: Iterable[Item], *, read: Callable[[Item], Image.Image], classifier: Classifier, batch_size: int = 32
) -> Iterator[tuple[Item, ModelPrediction | None, str]]:
    """(item, prediction, "") for each readable item, in order; (item, None, reason) for one that cannot be read,
    so that one bad file never stops a batch run."""
    items = iter(items)
    while batch := list(islice(items, batch_size)):
        readable, photos = [], []
        for item in batch:
            try:
                photos.append(read(item))
            except (OSError, ValueError, Image.DecompressionBombError) as error:
                yield item, None, str(error) or type(error).__name__
            else:
                readable.append(item)
        predictions = classifier.predict(photos, batch_size=batch_size)
        yield from ((item, result, "") for item, result in zip(readable, predictions, strict=True))


def rescore_images(
    *, images: Iterable[LesionImage], classifier: Classifier, batch_size: int = 32, on_batch: Callable[[int], None]
) -> list[tuple[LesionImage, str]]:
    """Classify every image again with one model, storing a prediction per image for that model version beside
    the earlier versions' ones. Returns the images that could not be read, with the reason."""
    version = register_model_version(classifier=classifier)
    unreadable, results = [], []

    def flush() -> None:
        store_predictions(version=version, results=results)
        on_batch(len(results))
        results.clear()

    predictions = predict_in_batches(images, read=read_photo, classifier=classifier, batch_size=batch_size)
    for image, result, reason in predictions:
        if result is None:
            unreadable.append((image, reason))
            on_batch(1)
            continue
        results.append((image, result))
        if len(results) == batch_size:
            flush()
    if results:
        flush()
    return unreadable
