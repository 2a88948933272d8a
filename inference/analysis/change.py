"""Measurements of one lesion, and the measured change between two photos of it.

Physical scale is unknown in a photo, so sizes are compared in the reference (earlier) photo's pixels: the
later photo is aligned onto the earlier one (see `inference.analysis.registration`), and the zoom of that alignment
converts the later lesion's pixels into the earlier photo's. A photo taken closer is therefore not read as
growth, while a lesion that really grew still reads larger: the lesion only helps find the rough rotation and
position, and the zoom is read on the skin around it alone.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from PIL import Image
from scipy import ndimage
from scipy.spatial import ConvexHull

from inference.analysis.color import rgb_to_lab
from inference.analysis.registration import FAIR_QUALITY, Registration, register
from inference.analysis.segmentation import segment_lesion

__all__ = [
    "CANNOT_TELL",
    "CHANGED",
    "CHANGE_RULE",
    "LesionChange",
    "LesionMeasurements",
    "UNCHANGED",
    "Registration",
    "compare_lesion_images",
    "measure_lesion",
    "register",
    "verdict_of",
]

CHANGED, UNCHANGED, CANNOT_TELL = "changed", "unchanged", "cannot_tell"
VERDICT_TEXT = {CHANGED: "Changed", UNCHANGED: "Unchanged", CANNOT_TELL: "Cannot tell"}
AREA_RATIO_LIMITS = (0.8, 1.25)
DIAMETER_RATIO_LIMITS = (0.85, 1.15)
RELIABLE_QUALITY = FAIR_QUALITY  # size figures are trusted from a fair alignment up
# A lesion whose outline runs along the photo's edge for more than this share of its length is cut off: its size
# and shape in that photo are unknown.
CUT_OFF_OUTLINE_SHARE = 0.1
ASYMMETRY_INCREASE_LIMIT = 0.10
BORDER_IRREGULARITY_RATIO_LIMIT = 1.25
COLOUR_CHANGE_LIMIT = 12.0
SKIN_RING_FRACTION = 0.15
MEASURED_PIXELS = 20_000

CHANGE_RULE = (
    "A lesion is flagged as changed when any of these holds between the earlier and the later photo: "
    f"its area grew or shrank beyond x{AREA_RATIO_LIMITS[0]}-x{AREA_RATIO_LIMITS[1]}; "
    f"its longest diameter beyond x{DIAMETER_RATIO_LIMITS[0]}-x{DIAMETER_RATIO_LIMITS[1]}; "
    f"its asymmetry rose by more than {ASYMMETRY_INCREASE_LIMIT:.2f} (on a 0-1 scale); "
    f"its border irregularity rose by more than {round((BORDER_IRREGULARITY_RATIO_LIMIT - 1) * 100)}%; "
    f"or its colour relative to the surrounding skin changed by more than {COLOUR_CHANGE_LIMIT:g} "
    "Delta E (CIE76; about 2 is just noticeable). "
    "Sizes are compared after aligning the later photo onto the earlier one, with the zoom read on the skin "
    "around the lesion, so a photo taken closer or rotated is not read as growth while real growth still shows. "
    'The answer is "cannot tell" instead, with the reasons, when the photos cannot be compared fairly: the '
    f"alignment is poor (quality below {RELIABLE_QUALITY}, so the zoom between them is unknown), one is a plain "
    "camera photo and the other a dermoscopic one, the lesion was not found in one of them, or it is cut off "
    f"by a photo's edge (along more than {CUT_OFF_OUTLINE_SHARE:.0%} of its outline) in either photo, unless the "
    "part in view already shows the change: a lesion cut off only in the later photo whose visible part is "
    "larger than the whole earlier lesion beyond the area limit grew at least that much (and one cut off only in "
    "the earlier photo, shrank). "
    "This is a prompt to look again, not a diagnosis."
)


@dataclass(frozen=True)
class LesionMeasurements:
    image_height: int
    image_width: int
    area_pixels: int
    area_fraction: float  # of the whole photo
    longest_diameter_pixels: float
    asymmetry: float  # 0 symmetric .. 1: share of the lesion that its mirror images about both principal axes miss
    border_irregularity: float  # perimeter^2 / (4 pi area): 1 for a circle, larger for ragged borders
    mean_lab: tuple[float, float, float]
    skin_lab: tuple[float, float, float]  # mean colour of a ring of skin around the lesion
    colour_variegation: float  # RMS Delta E of the lesion's pixels from its mean colour

    def as_dict(self) -> dict:
        return _rounded(asdict(self))


@dataclass(frozen=True)
class LesionChange:
    before: LesionMeasurements
    after: LesionMeasurements
    registration: Registration
    area_ratio: float  # after / before, in the earlier photo's pixels
    diameter_ratio: float
    asymmetry_change: float  # after - before
    border_irregularity_change: float  # after - before
    colour_variegation_change: float  # after - before, Delta E
    colour_change: float  # Delta E between the lesion-minus-skin colours
    registration_quality: float
    reliable: bool  # the alignment was good enough for the size figures
    # "lower" where the lesion runs off the later photo's edge (the ratios are at least what they read), "upper"
    # where it runs off the earlier one's; None where both photos hold the whole lesion.
    area_ratio_bound: str | None
    verdict: str  # CHANGED, UNCHANGED or CANNOT_TELL
    reasons: list[str]  # what changed (verdict CHANGED)
    cannot_tell_reasons: list[str]  # why the photos cannot be compared fairly (verdict CANNOT_TELL)
    rule: str = CHANGE_RULE

    @property
    def changed(self) -> bool:
        return self.verdict == CHANGED

    def as_dict(self) -> dict:
        fields = {
            name: value for name, value in asdict(self).items() if name not in {"before", "after", "registration"}
        }
        return {
            **_rounded(fields),
            "changed": self.changed,
            "verdict_text": VERDICT_TEXT[self.verdict],
            "before": self.before.as_dict(),
            "after": self.after.as_dict(),
            "registration": self.registration.as_dict(),
        }


def measure_lesion(image, mask: np.ndarray) -> LesionMeasurements:
    """Size, shape and colour of the lesion under `mask` (HxW bool) in an RGB photo (PIL.Image or array)."""
    rgb = np.asarray(image.convert("RGB")) if isinstance(image, Image.Image) else np.asarray(image)[..., :3]
    mask = np.asarray(mask, dtype=bool)
    if mask.shape != rgb.shape[:2]:
        raise ValueError(f"mask shape {mask.shape} does not match image shape {rgb.shape[:2]}")
    height, width = mask.shape
    area = int(mask.sum())
    if area == 0:
        nothing = (float("nan"),) * 3
        return LesionMeasurements(height, width, 0, 0.0, 0.0, 0.0, 0.0, nothing, nothing, 0.0)
    # Colours are converted only where they are read (the lesion and the ring of skin around it), not over the
    # whole photo.
    lesion_lab = rgb_to_lab(_sampled(rgb[mask]))
    mean_lab = lesion_lab.mean(axis=0)
    return LesionMeasurements(
        image_height=height,
        image_width=width,
        area_pixels=area,
        area_fraction=area / mask.size,
        longest_diameter_pixels=_longest_diameter(mask),
        asymmetry=_asymmetry(mask),
        border_irregularity=_border_irregularity(mask),
        mean_lab=tuple(float(value) for value in mean_lab),
        skin_lab=tuple(float(value) for value in _skin_colour(rgb, mask)),
        colour_variegation=float(np.sqrt(((lesion_lab - mean_lab) ** 2).sum(axis=1).mean())),
    )


def compare_lesion_images(
    before,
    after,
    *,
    before_mask: np.ndarray | None = None,
    after_mask: np.ndarray | None = None,
    modalities: tuple[str, str] | None = None,
    align=register,
) -> LesionChange:
    """Measure the lesion in both photos, align `after` onto `before`, and say whether it changed, did not, or
    cannot be told. `modalities` (earlier, later), where known, are the kinds of photo (dermoscopic, clinical);
    `align` is the registration (the evaluation compares several)."""
    before_rgb, after_rgb = _rgb(before), _rgb(after)
    if before_mask is None:
        before_mask = segment_lesion(before_rgb)
    if after_mask is None:
        after_mask = segment_lesion(after_rgb)
    registration = align(before_rgb, after_rgb, reference_mask=before_mask, moving_mask=after_mask)
    before_measured = measure_lesion(before_rgb, before_mask)
    after_measured = measure_lesion(after_rgb, after_mask)
    zoom = registration.transform.scale  # later-photo pixels -> earlier-photo pixels
    area_ratio = _ratio(after_measured.area_pixels * zoom**2, before_measured.area_pixels)
    diameter_ratio = _ratio(after_measured.longest_diameter_pixels * zoom, before_measured.longest_diameter_pixels)
    colour_change = float(
        np.linalg.norm(
            (np.subtract(after_measured.mean_lab, after_measured.skin_lab))
            - (np.subtract(before_measured.mean_lab, before_measured.skin_lab))
        )
    )
    asymmetry_change = after_measured.asymmetry - before_measured.asymmetry
    border_change = after_measured.border_irregularity - before_measured.border_irregularity
    reliable = registration.quality >= RELIABLE_QUALITY
    doubts = _cannot_tell_reasons(
        before_mask=before_mask, after_mask=after_mask, registration=registration, modalities=modalities
    )
    cut_off_sides = [
        side
        for side, mask in (("earlier", before_mask), ("later", after_mask))
        if mask.any() and cut_off_share(mask) > CUT_OFF_OUTLINE_SHARE
    ]
    cut_off_doubts = [
        f"The lesion is cut off by the {side} photo's edge, so its size there is unknown." for side in cut_off_sides
    ]
    bound = {("later",): "lower", ("earlier",): "upper"}.get(tuple(cut_off_sides))
    if doubts:
        reasons, doubts = [], doubts + cut_off_doubts
    elif cut_off_sides:
        reasons = _bounded_area_reasons(area_ratio=area_ratio, bound=bound)
        doubts = [] if reasons else cut_off_doubts
    else:
        reasons = _reasons(
            area_ratio=area_ratio,
            diameter_ratio=diameter_ratio,
            asymmetry_change=asymmetry_change,
            border_ratio=_ratio(after_measured.border_irregularity, before_measured.border_irregularity),
            colour_change=colour_change,
        )
    return LesionChange(
        before=before_measured,
        after=after_measured,
        registration=registration,
        area_ratio=area_ratio,
        diameter_ratio=diameter_ratio,
        asymmetry_change=asymmetry_change,
        border_irregularity_change=border_change,
        colour_variegation_change=after_measured.colour_variegation - before_measured.colour_variegation,
        colour_change=colour_change,
        registration_quality=registration.quality,
        reliable=reliable,
        area_ratio_bound=bound,
        verdict=CANNOT_TELL if doubts else CHANGED if reasons else UNCHANGED,
        reasons=reasons,
        cannot_tell_reasons=doubts,
    )


def _cannot_tell_reasons(*, before_mask, after_mask, registration: Registration, modalities) -> list[str]:
    doubts = []
    if modalities is not None and modalities[0] != modalities[1]:
        doubts.append(
            f"Different kinds of photo ({modalities[0]} earlier, {modalities[1]} later): a dermoscope and a plain "
            "camera show a lesion's edge and colours differently."
        )
    for side, mask in (("earlier", before_mask), ("later", after_mask)):
        if not mask.any():
            doubts.append(f"No lesion was found in the {side} photo.")
    if registration.quality < RELIABLE_QUALITY:
        doubts.append(registration.quality_text)
    return doubts


def verdict_of(stored: dict) -> str:
    """The verdict of a stored change (`LesionChange.as_dict()`); records from before "cannot tell" existed carry
    only the changed flag."""
    return stored.get("verdict") or (CHANGED if stored.get("changed") else UNCHANGED)


def cut_off_share(mask: np.ndarray) -> float:
    """The share of the lesion's outline that runs along the photo's edge (0 for a lesion inside the frame)."""
    padded = np.pad(mask, 1)
    outline = np.count_nonzero(padded[1:, :] != padded[:-1, :]) + np.count_nonzero(padded[:, 1:] != padded[:, :-1])
    on_edge = int(mask[0].sum() + mask[-1].sum() + mask[:, 0].sum() + mask[:, -1].sum())
    return on_edge / outline if outline else 0.0


def _bounded_area_reasons(*, area_ratio: float, bound: str | None) -> list[str]:
    """What a lesion cut off in one photo still shows: the part in view is a floor on its area there."""
    if bound == "lower" and area_ratio > AREA_RATIO_LIMITS[1]:
        return [
            f"Area grew: at least x{area_ratio:.2f} (limits x{AREA_RATIO_LIMITS[0]}-x{AREA_RATIO_LIMITS[1]}; the "
            "lesion runs off the later photo's edge, so only the part in view was measured)."
        ]
    if bound == "upper" and area_ratio < AREA_RATIO_LIMITS[0]:
        return [
            f"Area shrank: to at most x{area_ratio:.2f} (limits x{AREA_RATIO_LIMITS[0]}-x{AREA_RATIO_LIMITS[1]}; "
            "the lesion runs off the earlier photo's edge, so only the part in view was measured)."
        ]
    return []


def _reasons(*, area_ratio, diameter_ratio, asymmetry_change, border_ratio, colour_change) -> list[str]:
    reasons = []
    if not AREA_RATIO_LIMITS[0] <= area_ratio <= AREA_RATIO_LIMITS[1]:
        direction = "grew" if area_ratio > 1 else "shrank"
        reasons.append(f"Area {direction}: x{area_ratio:.2f} (limits x{AREA_RATIO_LIMITS[0]}-x{AREA_RATIO_LIMITS[1]}).")
    if not DIAMETER_RATIO_LIMITS[0] <= diameter_ratio <= DIAMETER_RATIO_LIMITS[1]:
        direction = "longer" if diameter_ratio > 1 else "shorter"
        reasons.append(f"Longest diameter {direction}: x{diameter_ratio:.2f}.")
    if asymmetry_change > ASYMMETRY_INCREASE_LIMIT:
        reasons.append(f"More asymmetric: +{asymmetry_change:.2f} on a 0-1 scale.")
    if border_ratio > BORDER_IRREGULARITY_RATIO_LIMIT:
        reasons.append(f"Border more irregular: x{border_ratio:.2f}.")
    if colour_change > COLOUR_CHANGE_LIMIT:
        reasons.append(f"Colour changed: Delta E {colour_change:.1f} relative to the surrounding skin.")
    return reasons


def _rgb(image) -> np.ndarray:
    return np.asarray(image.convert("RGB")) if isinstance(image, Image.Image) else np.asarray(image)[..., :3]


def _ratio(numerator: float, denominator: float) -> float:
    return float(numerator / denominator) if denominator > 0 and numerator > 0 else float("nan")


def _longest_diameter(mask: np.ndarray) -> float:
    # The hull of a lesion is the hull of each row's first and last pixel: a few thousand points, not millions.
    rows = np.flatnonzero(mask.any(axis=1))
    first = mask[rows].argmax(axis=1)
    last = mask.shape[1] - 1 - mask[rows, ::-1].argmax(axis=1)
    row_ends = np.concatenate([np.stack([first, rows], axis=1), np.stack([last, rows], axis=1)])
    # Pixel corners, not centres, so a one-pixel lesion is one pixel wide.
    points = np.concatenate([row_ends + (dx, dy) for dx in (-0.5, 0.5) for dy in (-0.5, 0.5)]).astype(np.float64)
    points = points[ConvexHull(points).vertices]
    differences = points[:, None, :] - points[None, :, :]
    return float(np.sqrt((differences**2).sum(axis=-1)).max())


def _asymmetry(mask: np.ndarray) -> float:
    rows, cols = np.nonzero(mask)
    coordinates = _sampled(np.stack([cols, rows], axis=1)).astype(np.float64)
    centre = coordinates.mean(axis=0)
    centred = coordinates - centre
    if len(centred) < 3:
        return 0.0
    _, axes = np.linalg.eigh(np.cov(centred.T))
    mismatches = []
    for axis in axes.T:
        # Mirror each lesion pixel about the line through the centroid along this principal axis.
        along = centred @ axis
        mirrored = 2 * along[:, None] * axis[None, :] - centred + centre
        mirrored_cols, mirrored_rows = np.rint(mirrored).astype(int).T
        inside = (
            (mirrored_rows >= 0)
            & (mirrored_rows < mask.shape[0])
            & (mirrored_cols >= 0)
            & (mirrored_cols < mask.shape[1])
        )
        hits = np.zeros(len(mirrored), dtype=bool)
        hits[inside] = mask[mirrored_rows[inside], mirrored_cols[inside]]
        mismatches.append(1.0 - hits.mean())
    return float(np.mean(mismatches))


def _border_irregularity(mask: np.ndarray) -> float:
    padded = np.pad(mask, 1)
    # Edges between lesion and non-lesion pixels measure a city-block perimeter; pi/4 converts it to the
    # expected Euclidean length of a boundary of random orientation.
    city_block = np.count_nonzero(padded[1:, :] != padded[:-1, :]) + np.count_nonzero(padded[:, 1:] != padded[:, :-1])
    perimeter = city_block * np.pi / 4
    return float(perimeter**2 / (4 * np.pi * mask.sum()))


def _skin_colour(rgb: np.ndarray, mask: np.ndarray) -> np.ndarray:
    ring_width = max(2, round(SKIN_RING_FRACTION * np.sqrt(mask.sum())))
    # The ring lies within ring_width + 2 pixels of the lesion: dilate only that window of the photo.
    reach = ring_width + 3
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    window = (
        slice(max(0, rows[0] - reach), rows[-1] + reach + 1),
        slice(max(0, cols[0] - reach), cols[-1] + reach + 1),
    )
    near = mask[window]
    outer = ndimage.binary_dilation(near, iterations=ring_width + 2)
    ring = outer & ~ndimage.binary_dilation(near, iterations=2)
    if ring.any():
        return rgb_to_lab(_sampled(rgb[window][ring])).mean(axis=0)
    if not (~mask).any():
        return np.full(3, np.nan)
    return rgb_to_lab(_sampled(rgb[~mask])).mean(axis=0)


def _sampled(rows: np.ndarray) -> np.ndarray:
    """At most about MEASURED_PIXELS rows, evenly spread: the colour and asymmetry figures are means over a lesion's
    pixels, which a regular sample of 20,000 estimates to well within their limits, at a fraction of the cost for a
    large lesion (a pair of 12 MP photos spent two thirds of its time here)."""
    return rows[:: max(1, len(rows) // MEASURED_PIXELS)]


def _rounded(values: dict) -> dict:
    def rounded(value):
        if isinstance(value, float):
            return round(value, 5) if np.isfinite(value) else None
        if isinstance(value, (tuple, list)):
            return [rounded(item) for item in value]
        return value

    return {name: rounded(value) for name, value in values.items()}
