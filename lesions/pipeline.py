"""The photo pipeline: each stored photo is classified by the served model, outlined and measured, and compared with
the lesion's previous photo; the stages' states, the safety net's resends, and rescoring every photo with a model.

The worker's tasks and the management commands call these functions (the model registry is lesions.registry).

Measuring change between two photos loads the stored photos and masks, asks inference.analysis.change to register and
measure them, and keeps the answer: on the later photo (the pipeline's own pairs) or in the cache (pairs a page
asked for; photos never change once stored, so a pair's answer stays true). Phone photos run to 12 megapixels
and more, where a comparison takes tens of seconds; pairs are compared as copies no longer than
COMPARISON_LONG_SIDE (ratios do not depend on the size, and the alignment finds any zoom between the two copies)
and the alignment is mapped back onto the full-size photos for the viewer.
"""

import functools
import io
import logging
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import islice
from typing import TypeVar

import numpy as np
from celery.exceptions import SoftTimeLimitExceeded
from django.core.cache import cache
from django.core.files.base import ContentFile
from django.db import DatabaseError, transaction
from django.db.models import Q
from django.utils import timezone
from PIL import Image

from inference import Classifier, ModelLoadError
from inference import Prediction as ModelPrediction
from inference.analysis.change import compare_lesion_images, measure_lesion
from inference.analysis.segmentation import segment_lesion
from inference.analysis.sizes import COMPARISON_LONG_SIDE, OUTLINE_LONG_SIDE
from inference.serving.preprocessing import load_rgb
from lesions import photo_gate
from lesions.models import LesionImage, ModelVersion, Prediction
from lesions.registry import ModelVersionConflict, register_model_version, serving_model

logger = logging.getLogger(__name__)

# Errors worth another try later (the database or a storage server briefly away); any other error is final.
TRANSIENT_ERRORS = (DatabaseError, ConnectionError, TimeoutError)

Item = TypeVar("Item")


CACHE_SECONDS = 7 * 24 * 3600
# In a burst of uploads a task takes the photos queued behind its own, up to this many, instead of leaving each to
# its own message (the embedded broker hands out one message per polling interval); each photo's answer is stored as
# soon as it is known (the model is no cheaper per photo on a batch). It stops taking more after a while, well
# within its time limit: phone photos take a second or more each.
CLASSIFICATION_BATCH_SIZE = 16
CLASSIFICATION_TAKES_MORE_FOR_S = 5.0


def read_photo(image: LesionImage) -> Image.Image:
    with image.image.open("rb") as stored:
        return load_rgb(stored.read())


def upsert_predictions(*, version: ModelVersion, results: list[tuple[LesionImage, ModelPrediction]]) -> None:
    """Saving again for the same model version updates the prediction in place, so a repeated task or a re-run
    rescore never duplicates one."""
    Prediction.objects.bulk_create(
        [
            Prediction(
                image=image,
                model_version=version,
                probabilities=result.probabilities,
                top=[list(pair) for pair in result.top],
                malignancy=result.malignancy,
                dx_type=result.dx_type,
            )
            for image, result in results
        ],
        update_conflicts=True,
        unique_fields=["image", "model_version"],
        update_fields=["probabilities", "top", "malignancy", "dx_type"],
    )


def store_predictions(*, version: ModelVersion, results: list[tuple[LesionImage, ModelPrediction]]) -> None:
    """Save predictions and mark their images done."""
    with transaction.atomic():
        upsert_predictions(version=version, results=results)
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


def claim_photo(*, image_pk: int) -> LesionImage | None:
    """Mark the task's own photo running, unless it is done or held back already (a message delivered again, or a
    photo an earlier task took from the queue) or deleted."""
    with transaction.atomic():
        image = (
            LesionImage.objects.select_for_update()
            .filter(pk=image_pk)
            .exclude(status__in=(LesionImage.Status.DONE, LesionImage.Status.GATED))
            .first()
        )
        if image is not None:
            enter_stage(image.pk, CLASSIFICATION, LesionImage.Status.RUNNING, error="")
    return image


def claim_queued_photo() -> LesionImage | None:
    """Mark the oldest queued photo running. On PostgreSQL another worker's claim skips the row this one holds; on
    SQLite the immediate transactions make claims take turns."""
    with transaction.atomic():
        queued = LesionImage.objects.select_for_update(skip_locked=True).filter(status=LesionImage.Status.QUEUED)
        image = queued.order_by("created_at", "id").first()
        if image is not None:
            enter_stage(image.pk, CLASSIFICATION, LesionImage.Status.RUNNING, error="")
    return image


def classify_photos(
    *, image_pk: int, batch_size: int = CLASSIFICATION_BATCH_SIZE, then: Callable[[int], object] = lambda pk: None
) -> dict[int, bool]:
    """Classify a stored photo with the served model, then take photos still queued (a burst of uploads), oldest
    first, until `batch_size` photos are done, the queue is empty or CLASSIFICATION_TAKES_MORE_FOR_S have passed.
    Each photo's status goes running, then done, gated (held back by the photo check: no prediction) or failed,
    stored as soon as the photo is classified, and `then` called with the photo (a worker killed later on leaves
    nothing undone but the photo it was on). Answers, for each photo this call took, whether it was classified;
    nothing for its own photo when that was done or held back already.

    A transient error on its own photo propagates, for the task to retry; on a photo taken from the queue it ends
    the call, leaving that photo running for its own message to take again."""
    outcomes: dict[int, bool] = {}
    taking_more_until = time.monotonic() + CLASSIFICATION_TAKES_MORE_FOR_S
    # The served version is looked up once per call: an activation applies from the next call on. A failed
    # lookup is not remembered, so that each photo reports it.
    served = functools.cache(serving_model)
    if own := claim_photo(image_pk=image_pk):
        outcomes[own.pk] = classify_claimed(own, served=served)
        then(own.pk)
    try:
        while len(outcomes) < batch_size and time.monotonic() < taking_more_until and (image := claim_queued_photo()):
            outcomes[image.pk] = classify_claimed(image, served=served)
            then(image.pk)
    except TRANSIENT_ERRORS:
        logger.warning("Stopped taking queued photos after a transient error.", exc_info=True)
    return outcomes


def classify_claimed(image: LesionImage, *, served: Callable[[], tuple[Classifier, ModelVersion]]) -> bool:
    """Classify a photo marked running with the `served` model. Transient errors propagate; any other error marks
    the photo failed with a message a person can read, so that the worker goes on serving. Answers whether the
    photo was classified."""
    try:
        classifier, version = served()
        photo = read_photo(image)
        verdict = photo_gate.verdict(image=image, photo=photo)
        held_back = verdict is not None and not verdict["passed"]
        results = [] if held_back else [(image, classifier.predict([photo])[0])]
    except TRANSIENT_ERRORS:
        raise
    except Exception as error:
        logger.exception("Classifying image %s failed.", image.pk)
        mark_failed(image_pk=image.pk, error=error)
        return False
    state = LesionImage.Status.GATED if held_back else LesionImage.Status.DONE
    checked = {} if verdict is None else {"gate_verdict": verdict}
    with transaction.atomic():
        upsert_predictions(version=version, results=results)
        enter_stage(image.pk, CLASSIFICATION, state, **checked)
    return not held_back


def classify_image(*, image_pk: int) -> bool:
    """Classify one stored photo on its own (see classify_photos); answers whether it is classified, a photo
    classified earlier included."""
    taken = classify_photos(image_pk=image_pk, batch_size=1)
    return taken[image_pk] if image_pk in taken else stage_is(image_pk, CLASSIFICATION, LesionImage.Status.DONE)


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
        lambda: record_change_from_previous(image),
        failure="The change since the last photo could not be measured",
    )
    if measured:
        enter_stage(image_pk, CHANGE, LesionImage.Status.DONE)


def open_rgb(stored, *, long_side: int) -> Image.Image:
    """The stored photo no longer than long_side (a large JPEG is decoded at a reduced scale, much faster)."""
    with stored.open("rb") as handle:
        photo = Image.open(io.BytesIO(handle.read()))
    size, _ = shrunk(photo.size, long_side)
    photo.draft("RGB", size)
    photo = photo.convert("RGB")
    return photo.resize(size, Image.Resampling.BOX) if photo.size != size else photo


def stored_mask(image: LesionImage) -> np.ndarray | None:
    """The worker's segmentation of the photo, when it has stored one."""
    if not image.mask:
        return None
    with image.mask.open("rb") as handle:
        return np.asarray(Image.open(io.BytesIO(handle.read())).convert("L")) > 127


def shrunk(size: tuple[int, int], long_side: int) -> tuple[tuple[int, int], float]:
    scale = min(1.0, long_side / max(size))
    return (max(1, round(size[0] * scale)), max(1, round(size[1] * scale))), scale


def resize_mask(mask: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    if (mask.shape[1], mask.shape[0]) == size:
        return mask
    return np.asarray(Image.fromarray(mask).resize(size, Image.Resampling.NEAREST))


def working_copy(image: LesionImage) -> tuple[Image.Image, np.ndarray, float]:
    """The photo at most COMPARISON_LONG_SIDE long, its lesion mask at that size (the worker's, else segmented
    now), and the scale from the stored photo to the copy."""
    copy = open_rgb(image.image, long_side=COMPARISON_LONG_SIDE)
    scale = copy.width / image.width
    mask = stored_mask(image)
    return copy, (segment_lesion(copy) if mask is None else resize_mask(mask, copy.size)), scale


def _cache_key(before: LesionImage, after: LesionImage) -> str:
    return f"lesion-change:v3:{before.sha256}:{before.mask.name}:{after.sha256}:{after.mask.name}"


def measured_change(before: LesionImage, after: LesionImage) -> dict:
    """inference.analysis.change's answer for the pair, plus what the viewer needs: the alignment in the stored photos'
    pixels, and the longest diameters in each stored photo's own pixels."""
    key = _cache_key(before, after)
    change = stored_change(before, after)
    if change is None:
        (before_copy, before_mask, before_scale), (after_copy, after_mask, after_scale) = (
            working_copy(before),
            working_copy(after),
        )
        change = compare_lesion_images(
            before_copy,
            after_copy,
            before_mask=before_mask,
            after_mask=after_mask,
            modalities=(before.modality, after.modality),
        ).as_dict()
        copy_to_copy = np.array(change["registration"]["transform"]["matrix_moving_to_reference"])
        # stored after -> after copy -> before copy -> stored before
        to_stored_before = np.diag([1 / before_scale, 1 / before_scale, 1])
        full_size = to_stored_before @ copy_to_copy @ np.diag([after_scale, after_scale, 1])
        change["viewer_matrix"] = full_size.round(6).tolist()
        for side, scale in (("before", before_scale), ("after", after_scale)):
            diameter = change[side]["longest_diameter_pixels"]
            change[side]["stored_diameter_pixels"] = None if diameter is None else round(diameter / scale, 1)
        cache.set(key, change, CACHE_SECONDS)
    return change


def measure_pair(*, before_pk: int, after_pk: int) -> None:
    """The worker's side of `change_or_queue`: measure the pair and keep the answer (in the cache)."""
    photos = {image.pk: image for image in LesionImage.objects.filter(pk__in=(before_pk, after_pk))}
    if len(photos) == 2:  # a photo deleted meanwhile leaves nothing to measure
        measured_change(photos[before_pk], photos[after_pk])


def stored_change(before: LesionImage, after: LesionImage) -> dict | None:
    """A change already measured for this pair, without measuring it now (lists must stay fast): the worker's,
    stored on the later photo, else one a page measured."""
    stored = after.change_from_previous
    if stored is not None and stored.get("before_id") == before.pk:
        return stored
    return cache.get(_cache_key(before, after))


def record_change_from_previous(image: LesionImage) -> None:
    """Measure how the lesion changed into this photo and, if it came in out of order, into the next one; keep
    each answer on the later photo, so the dashboard can flag a change nobody has looked at yet."""
    photos = list(image.lesion.images.exclude(mask="").order_by("captured_at", "id"))
    position = next((index for index, photo in enumerate(photos) if photo.pk == image.pk), None)
    if position is None:
        return
    pairs = [(photos[index - 1], photos[index]) for index in (position, position + 1) if 0 < index < len(photos)]
    for before, after in pairs:
        change = {**measured_change(before, after), "before_id": before.pk}
        LesionImage.objects.filter(pk=after.pk).update(change_from_previous=change)


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
