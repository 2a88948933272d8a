"""What the pages and the API show of a lesion's photos: photos with their results, a pair's measured change
(asked of the worker when not yet measured), its alignment and outline for the viewer, and stored files."""

import io

import numpy as np
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.core.files.storage import FileSystemStorage
from django.db.models import Prefetch
from django.http import FileResponse, HttpResponseRedirect
from PIL import Image
from scipy import ndimage

from inference.analysis.change import CANNOT_TELL, VERDICT_TEXT, verdict_of
from inference.analysis.segmentation import segment_lesion
from inference.analysis.sizes import OUTLINE_OVERLAY_LONG_SIDE
from inference.serving.labels import CLASS_NAMES, CLASSES, MALIGNANT_CLASSES
from lesions.models import LesionImage, Prediction
from lesions.pipeline import open_rgb, resize_mask, shrunk, stored_change, stored_mask

# A pair asked for is sent to the worker once in this long, however often its page or API client polls.
QUEUED_SECONDS = 10 * 60


def images_with_predictions(queryset):
    """Photos with what their result needs: predictions, and whether the patient may see it yet."""
    return queryset.with_release().prefetch_related(
        Prefetch("predictions", queryset=Prediction.objects.select_related("model_version"))
    )


def stored_file_response(stored):
    """Local files stream through Django; object storage answers with a short-lived signed URL, whose answer the
    bucket marks uncacheable as this site's own are (skintrack.middleware.NoStoreMiddleware)."""
    if isinstance(stored.storage, FileSystemStorage):
        return FileResponse(stored.open("rb"), content_type="image/jpeg")
    return HttpResponseRedirect(stored.storage.url(stored.name, parameters={"ResponseCacheControl": "no-store"}))


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


def with_verdict(change: dict | None) -> dict | None:
    """A stored change with its verdict and the verdict's words filled in (older records lack them)."""
    if change is None:
        return None
    verdict = verdict_of(change)
    return {
        **change,
        "verdict": verdict,
        "verdict_text": VERDICT_TEXT[verdict],
        "cannot_tell_reasons": change.get("cannot_tell_reasons", []),
    }


def relative_areas(images: list[LesionImage]) -> dict[int, float | None]:
    """Each outlined photo's lesion area relative to the first outlined photo's, on the first photo's scale: the
    worker's zoom-corrected area ratios (`change_from_previous`) of consecutive photos, multiplied along.

    A share of each photo would read a photo taken closer as growth. A link the worker could not measure fairly
    ("cannot tell"), read only as a bound (the lesion cut off by a photo's edge), measured against another photo
    than the previous one, or withheld from the viewer (`change_shown`) breaks the chain: that photo and those after
    it get None, a gap rather than a wrong value.
    `images` in the order taken, as the lesion pages list them."""
    relative: dict[int, float | None] = {}
    previous = None
    for image in images:
        if not image.mask:
            continue  # never outlined: the worker compares the photos either side of it directly
        change = image.change_from_previous or {}
        if previous is None:
            relative[image.pk] = 1.0 if (image.measurements or {}).get("area_pixels") else None
        elif (
            relative[previous.pk] is not None
            and image.change_shown
            and change.get("before_id") == previous.pk
            and verdict_of(change) != CANNOT_TELL
            and not change.get("area_ratio_bound")
            and change.get("area_ratio")
        ):
            relative[image.pk] = relative[previous.pk] * change["area_ratio"]
        else:
            relative[image.pk] = None
        previous = image
    return relative


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
    """The lesion's outline as a transparent PNG of the photo's shape (at most OUTLINE_OVERLAY_LONG_SIDE long; the pages
    stretch it over the photo)."""
    size, _ = shrunk((image.width, image.height), OUTLINE_OVERLAY_LONG_SIDE)
    mask = stored_mask(image)
    mask = segment_lesion(open_rgb(image.image, long_side=OUTLINE_OVERLAY_LONG_SIDE)) if mask is None else mask
    mask = resize_mask(mask, size)
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
