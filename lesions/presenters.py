"""The pages' side of measuring change between two photos of a lesion: load the stored photos and masks, ask
inference.change to register and measure them, and keep the answer in the cache (photos never change once
stored, so a pair's answer stays true).

Phone photos run to 12 megapixels and more, where a comparison takes tens of seconds; the pages compare copies
no longer than COMPARISON_LONG_SIDE (ratios do not depend on the size, and the alignment finds any zoom between
the two copies) and map the alignment back onto the full-size photos for the viewer.
"""

import io

import numpy as np
from django.core.cache import cache
from django.core.exceptions import ValidationError
from PIL import Image
from scipy import ndimage

from inference.change import VERDICT_TEXT, compare_lesion_images, verdict_of
from inference.labels import CLASS_NAMES, CLASSES, MALIGNANT_CLASSES
from inference.segmentation import segment_lesion
from lesions.models import LesionImage, Prediction

CACHE_SECONDS = 7 * 24 * 3600
# A pair asked for is sent to the worker once in this long, however often its page or API client polls.
QUEUED_SECONDS = 10 * 60
COMPARISON_LONG_SIDE = 1024
OUTLINE_LONG_SIDE = 1600


def _open_rgb(stored, *, long_side: int) -> Image.Image:
    """The stored photo no longer than long_side (a large JPEG is decoded at a reduced scale, much faster)."""
    with stored.open("rb") as handle:
        photo = Image.open(io.BytesIO(handle.read()))
    size, _ = _shrunk(photo.size, long_side)
    photo.draft("RGB", size)
    photo = photo.convert("RGB")
    return photo.resize(size, Image.Resampling.BOX) if photo.size != size else photo


def stored_mask(image: LesionImage) -> np.ndarray | None:
    """The worker's segmentation of the photo, when it has stored one."""
    if not image.mask:
        return None
    with image.mask.open("rb") as handle:
        return np.asarray(Image.open(io.BytesIO(handle.read())).convert("L")) > 127


def _shrunk(size: tuple[int, int], long_side: int) -> tuple[tuple[int, int], float]:
    scale = min(1.0, long_side / max(size))
    return (max(1, round(size[0] * scale)), max(1, round(size[1] * scale))), scale


def _resize_mask(mask: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    if (mask.shape[1], mask.shape[0]) == size:
        return mask
    return np.asarray(Image.fromarray(mask).resize(size, Image.Resampling.NEAREST))


def working_copy(image: LesionImage) -> tuple[Image.Image, np.ndarray, float]:
    """The photo at most COMPARISON_LONG_SIDE long, its lesion mask at that size (the worker's, else segmented
    now), and the scale from the stored photo to the copy."""
    copy = _open_rgb(image.image, long_side=COMPARISON_LONG_SIDE)
    scale = copy.width / image.width
    mask = stored_mask(image)
    return copy, (segment_lesion(copy) if mask is None else _resize_mask(mask, copy.size)), scale


def _cache_key(before: LesionImage, after: LesionImage) -> str:
    return f"lesion-change:v3:{before.sha256}:{before.mask.name}:{after.sha256}:{after.mask.name}"


def measured_change(before: LesionImage, after: LesionImage) -> dict:
    """inference.change's answer for the pair, plus what the viewer needs: the alignment in the stored photos'
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


def chronological_pair(lesion, *, before_id: int, after_id: int) -> tuple[LesionImage, LesionImage]:
    """Two different photos of `lesion`, earlier first; ValidationError names a photo that is not one of them."""
    photos = {image.pk: image for image in lesion.images.filter(pk__in=(before_id, after_id))}
    for name, pk in (("before", before_id), ("after", after_id)):
        if pk not in photos:
            raise ValidationError({name: f"Photo {pk} is not a photo of this lesion."})
    if before_id == after_id:
        raise ValidationError({"after": "Choose two different photos."})
    before, after = photos[before_id], photos[after_id]
    return (after, before) if (before.captured_at, before.pk) > (after.captured_at, after.pk) else (before, after)


def change_or_queue(before: LesionImage, after: LesionImage) -> dict | None:
    """The pair's measured change, or None after asking the worker (analysis queue) to measure it: a web request
    never measures."""
    from lesions.tasks import measure_pair_task

    change = stored_change(before, after)
    if change is not None:
        return with_verdict({**change, "before_id": before.pk, "after_id": after.pk})
    if cache.add(f"lesion-change-queued:{before.pk}:{after.pk}", True, QUEUED_SECONDS):
        measure_pair_task.delay_on_commit(before.pk, after.pk)
    return None


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


def with_verdict(change: dict | None) -> dict | None:
    """A stored change with its verdict and the verdict's words filled in (older records lack them)."""
    if change is None:
        return None
    verdict = verdict_of(change)
    return {**change, "verdict": verdict, "verdict_text": VERDICT_TEXT[verdict],
            "cannot_tell_reasons": change.get("cannot_tell_reasons", [])}


def area_of(image: LesionImage) -> float | None:
    """The lesion's area as a fraction of its photo, from the worker's measurements."""
    measurements = image.measurements or {}
    return measurements.get("area_fraction")


def probability_rows(before: Prediction | None, after: Prediction | None) -> list[dict]:
    if before is None or after is None:
        return []
    return [
        {
            "code": code,
            "name": CLASS_NAMES[code],
            "before": before.probabilities.get(code, 0.0),
            "after": after.probabilities.get(code, 0.0),
            "delta": after.probabilities.get(code, 0.0) - before.probabilities.get(code, 0.0),
            "malignant": code in MALIGNANT_CLASSES,
        }
        for code in CLASSES
    ]


def outline_png(image: LesionImage) -> bytes:
    """The lesion's outline as a transparent PNG of the photo's shape (at most OUTLINE_LONG_SIDE long; the pages
    stretch it over the photo)."""
    size, _ = _shrunk((image.width, image.height), OUTLINE_LONG_SIDE)
    mask = stored_mask(image)
    mask = segment_lesion(_open_rgb(image.image, long_side=OUTLINE_LONG_SIDE)) if mask is None else mask
    mask = _resize_mask(mask, size)
    thickness = max(1, round(max(mask.shape) / 150))
    edge = mask & ~ndimage.binary_erosion(mask, iterations=thickness)
    rgba = np.zeros((*mask.shape, 4), dtype=np.uint8)
    rgba[edge] = (0, 230, 255, 255)
    buffer = io.BytesIO()
    Image.fromarray(rgba, mode="RGBA").save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()


def svg_transform(change: dict) -> str:
    """The alignment as an SVG transform that draws the later photo in the earlier photo's pixels."""
    (a, c, e), (b, d, f), _ = change["viewer_matrix"]
    return f"matrix({a} {b} {c} {d} {e} {f})"
