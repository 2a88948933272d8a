"""The pages' side of measuring change between two photos of a lesion: load the stored photos and masks, ask
inference.change to register and measure them, and keep the answer in the cache (photos never change once
stored, so a pair's answer stays true)."""

import io

import numpy as np
from django.core.cache import cache
from PIL import Image

from inference.labels import CLASS_NAMES, CLASSES
from lesions.models import LesionImage, Prediction

CACHE_SECONDS = 7 * 24 * 3600


def _open_rgb(stored) -> Image.Image:
    with stored.open("rb") as handle:
        return Image.open(io.BytesIO(handle.read())).convert("RGB")


def stored_mask(image: LesionImage) -> np.ndarray | None:
    """The worker's segmentation of the photo, when it has stored one."""
    if not image.mask:
        return None
    with image.mask.open("rb") as handle:
        return np.asarray(Image.open(io.BytesIO(handle.read())).convert("L")) > 127


def lesion_mask(image: LesionImage, photo: Image.Image | None = None) -> np.ndarray:
    mask = stored_mask(image)
    if mask is not None:
        return mask
    from inference.segmentation import segment_lesion

    return segment_lesion(photo if photo is not None else _open_rgb(image.image))


def _cache_key(before: LesionImage, after: LesionImage) -> str:
    return f"lesion-change:v1:{before.sha256}:{before.mask.name}:{after.sha256}:{after.mask.name}"


def measured_change(before: LesionImage, after: LesionImage) -> dict:
    key = _cache_key(before, after)
    change = cache.get(key)
    if change is None:
        from inference.change import compare_lesion_images

        before_photo, after_photo = _open_rgb(before.image), _open_rgb(after.image)
        change = compare_lesion_images(
            before_photo,
            after_photo,
            before_mask=lesion_mask(before, before_photo),
            after_mask=lesion_mask(after, after_photo),
        ).as_dict()
        cache.set(key, change, CACHE_SECONDS)
    return change


def stored_change(before: LesionImage, after: LesionImage) -> dict | None:
    """A change already measured for this pair, without measuring it now (lists must stay fast)."""
    return cache.get(_cache_key(before, after))


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
        }
        for code in CLASSES
    ]


def outline_png(image: LesionImage) -> bytes:
    """The lesion's outline as a transparent PNG the size of the photo, drawn over it on the pages."""
    from scipy import ndimage

    mask = lesion_mask(image)
    thickness = max(1, round(max(mask.shape) / 150))
    edge = mask & ~ndimage.binary_erosion(mask, iterations=thickness)
    rgba = np.zeros((*mask.shape, 4), dtype=np.uint8)
    rgba[edge] = (0, 230, 255, 255)
    buffer = io.BytesIO()
    Image.fromarray(rgba, mode="RGBA").save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()


def change_rule() -> str:
    from inference.change import CHANGE_RULE

    return CHANGE_RULE


def svg_transform(change: dict) -> str:
    """The alignment as an SVG transform that draws the later photo in the earlier photo's pixels."""
    (a, c, e), (b, d, f), _ = change["registration"]["transform"]["matrix_moving_to_reference"]
    return f"matrix({a} {b} {c} {d} {e} {f})"
