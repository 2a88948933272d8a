"""Automatic alignment of two photos of the same lesion; the zoom between them is read on the skin around it.

Two stages. First the whole photos, lesion included, are matched over a grid of rotations and zooms: the lesion
is the most distinctive structure and makes this global search robust. Then the match is refined on the skin
AROUND the lesion only, and that refined zoom is the one reported: if the lesion grew, matching the lesion would
read the growth as a zoom and cancel it, while skin texture, moles nearby and the framing do not grow.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np
from PIL import Image
from scipy import ndimage, optimize

from inference.analysis.color import rgb_to_lab
from inference.analysis.segmentation import dark_vignette, segment_lesion
from inference.analysis.sizes import REGISTRATION_LONG_SIDE

PYRAMID_FACTORS = (4, 2, 1)
LESION_MARGIN_FRACTION = 0.04
COARSE_ANGLES_DEGREES = tuple(range(-180, 180, 15))
COARSE_LOG_SCALES = tuple(np.log([0.4, 0.55, 0.75, 1.0, 1.33, 1.8, 2.5]))
COARSE_CANDIDATES_REFINED = 8
FINAL_CANDIDATES = 2
GOOD_QUALITY = 0.8
FAIR_QUALITY = 0.5


@dataclass(frozen=True)
class SimilarityTransform:
    """Maps moving-image pixel coordinates (x right, y down) onto reference-image pixel coordinates."""

    rotation_degrees: float
    scale: float
    translation_x: float
    translation_y: float

    @property
    def matrix(self) -> np.ndarray:
        angle = np.deg2rad(self.rotation_degrees)
        cos, sin = self.scale * np.cos(angle), self.scale * np.sin(angle)
        return np.array([[cos, -sin, self.translation_x], [sin, cos, self.translation_y], [0.0, 0.0, 1.0]])

    def as_dict(self) -> dict:
        return {
            "rotation_degrees": round(self.rotation_degrees, 3),
            "scale": round(self.scale, 5),
            "translation_x": round(self.translation_x, 3),
            "translation_y": round(self.translation_y, 3),
            "matrix_moving_to_reference": np.round(self.matrix, 6).tolist(),
        }


@dataclass(frozen=True)
class Registration:
    transform: SimilarityTransform
    aligned: np.ndarray = field(repr=False)  # the moving photo resampled into the reference frame, uint8 RGB
    overlap: np.ndarray = field(repr=False)  # reference pixels that the moving photo covers
    quality: float  # 0..1: correlation of the surrounding skin after alignment
    quality_text: str

    def as_dict(self) -> dict:
        return {
            "transform": self.transform.as_dict(),
            "quality": round(self.quality, 4),
            "quality_text": self.quality_text,
            "overlap_fraction": round(float(self.overlap.mean()), 4),
        }


def register(
    reference,
    moving,
    *,
    reference_mask: np.ndarray | None = None,
    moving_mask: np.ndarray | None = None,
) -> Registration:
    """Align `moving` onto `reference` with a rotation, zoom and shift found on the skin around the lesion.

    Masks (HxW bool, lesion True) are segmented when not given. Either photo may have any size.
    """
    reference_rgb, moving_rgb = _rgb(reference), _rgb(moving)
    if reference_mask is None:
        reference_mask = segment_lesion(reference_rgb)
    if moving_mask is None:
        moving_mask = segment_lesion(moving_rgb)
    reference_views = _PhotoViews.build(reference_rgb, reference_mask)
    moving_views = _PhotoViews.build(moving_rgb, moving_mask)
    working_transform, correlation = _search(reference_views, moving_views)
    transform = _to_full_resolution(working_transform, reference_views.scale, moving_views.scale)
    aligned, overlap = warp_into_reference(moving_rgb, transform, reference_rgb.shape[:2])
    quality = float(np.clip(correlation, 0.0, 1.0))
    return Registration(transform, aligned, overlap, quality, describe_quality(quality))


def describe_quality(quality: float) -> str:
    if quality >= GOOD_QUALITY:
        return f"Good alignment ({quality:.2f}): the skin around the lesion lines up closely in both photos."
    if quality >= FAIR_QUALITY:
        return (
            f"Fair alignment ({quality:.2f}): the photos line up roughly; check the overlay by eye before "
            "trusting small changes."
        )
    return (
        f"Poor alignment ({quality:.2f}): the photos could not be matched reliably (different framing, lighting "
        "or too little skin around the lesion); size changes may be misread."
    )


def warp_into_reference(
    moving_rgb: np.ndarray, transform: SimilarityTransform, reference_shape: tuple[int, int]
) -> tuple[np.ndarray, np.ndarray]:
    """Resample the moving photo onto the reference pixel grid; also return where it has content."""
    # OpenCV's bilinear warp gives what ndimage's order-1 affine_transform does, about ten times faster (the worker
    # warps every pair it compares).
    size = (reference_shape[1], reference_shape[0])
    matrix = transform.matrix[:2].astype(np.float64)
    aligned = cv2.warpAffine(np.ascontiguousarray(moving_rgb), matrix, size, flags=cv2.INTER_LINEAR)
    inside = cv2.warpAffine(np.ones(moving_rgb.shape[:2], np.float32), matrix, size, flags=cv2.INTER_LINEAR) > 0.5
    return aligned, inside


def _rgb(image) -> np.ndarray:
    if isinstance(image, Image.Image):
        return np.asarray(image.convert("RGB"))
    return np.asarray(image)[..., :3].astype(np.uint8)


def _pull(image: np.ndarray, reference_to_moving: np.ndarray, shape: tuple[int, int], *, order: int) -> np.ndarray:
    """Sample `image` (moving frame) at the moving coordinates of each reference pixel."""
    # ndimage works in (row, col); our matrices in (x, y): swap both sides.
    swap = np.array([[0, 1, 0], [1, 0, 0], [0, 0, 1]])
    row_col = swap @ reference_to_moving @ swap
    return ndimage.affine_transform(
        image, row_col[:2, :2], offset=row_col[:2, 2], output_shape=shape, order=order, cval=0.0
    )


@dataclass(frozen=True)
class _MatchView:
    """Band-passed lightness of one photo and where it may be compared, per pyramid level."""

    signals: dict[int, np.ndarray]
    usable: dict[int, np.ndarray]

    @classmethod
    def build(cls, lightness: np.ndarray, usable: np.ndarray) -> _MatchView:
        # Normalised convolution, so that what is left out (a black frame, the lesion) does not bleed in; the
        # band-pass keeps texture and edges and drops uneven lighting.
        signal = _masked_blur(lightness, usable, 1.0) - _masked_blur(lightness, usable, 12.0)
        signals = {factor: _block_mean(signal, factor) for factor in PYRAMID_FACTORS}
        usables = {factor: _block_mean(usable.astype(np.float32), factor) > 0.99 for factor in PYRAMID_FACTORS}
        return cls(signals, usables)


@dataclass(frozen=True)
class _PhotoViews:
    scale: float  # working pixels per original pixel
    whole: _MatchView  # the photo with its lesion, for the global search
    skin: _MatchView  # the skin around the lesion only, for the zoom that is reported
    lesion_centre: np.ndarray  # (x, y) in working pixels

    @classmethod
    def build(cls, rgb: np.ndarray, lesion_mask: np.ndarray) -> _PhotoViews:
        height, width = rgb.shape[:2]
        scale = REGISTRATION_LONG_SIDE / max(height, width)
        size = (max(8, round(width * scale)), max(8, round(height * scale)))
        lightness = rgb_to_lab(np.asarray(Image.fromarray(rgb).resize(size, Image.Resampling.BOX)))[..., 0]
        lesion = np.asarray(Image.fromarray(lesion_mask.astype(np.uint8) * 255).resize(size)) >= 128
        in_field = ~dark_vignette(lightness)
        margin = max(1, round(LESION_MARGIN_FRACTION * REGISTRATION_LONG_SIDE))
        skin = in_field & ~ndimage.binary_dilation(lesion, iterations=margin)
        if lesion.any():
            rows, cols = np.nonzero(lesion)
            centre = np.array([cols.mean(), rows.mean()])
        else:
            centre = np.array([(size[0] - 1) / 2, (size[1] - 1) / 2])
        return cls(scale, _MatchView.build(lightness, in_field), _MatchView.build(lightness, skin), centre)


def _masked_blur(image: np.ndarray, weight: np.ndarray, sigma: float) -> np.ndarray:
    weight = weight.astype(np.float64)
    blurred_weight = ndimage.gaussian_filter(weight, sigma)
    return ndimage.gaussian_filter(image * weight, sigma) / np.maximum(blurred_weight, 1e-6)


def _block_mean(image: np.ndarray, factor: int) -> np.ndarray:
    if factor == 1:
        return image.astype(np.float32)
    height, width = (image.shape[0] // factor) * factor, (image.shape[1] // factor) * factor
    blocks = image[:height, :width].reshape(height // factor, factor, width // factor, factor)
    return blocks.mean(axis=(1, 3)).astype(np.float32)


def _similarity(parameters: np.ndarray, pivot: np.ndarray) -> np.ndarray:
    """Moving->reference matrix (working pixels) from (tx, ty, angle degrees, log scale) about a pivot."""
    translation_x, translation_y, angle_degrees, log_scale = parameters
    angle, scale = np.deg2rad(angle_degrees), np.exp(log_scale)
    rotation = scale * np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    matrix = np.eye(3)
    matrix[:2, :2] = rotation
    matrix[:2, 2] = pivot + np.array([translation_x, translation_y]) - rotation @ pivot
    return matrix


def _at_level(matrix: np.ndarray, factor: int) -> np.ndarray:
    """The same transform expressed on a pyramid level whose pixels are `factor` working pixels wide."""
    to_level = np.diag([1 / factor, 1 / factor, 1.0])
    to_level[:2, 2] = (1 / factor - 1) / 2
    return to_level @ matrix @ np.linalg.inv(to_level)


def _correlation(reference: _MatchView, moving: _MatchView, matrix: np.ndarray, factor: int) -> float:
    """Correlation of the two band-passed lightness images where both may be compared, after alignment."""
    reference_signal = reference.signals[factor]
    reference_to_moving = np.linalg.inv(_at_level(matrix, factor))
    shape = reference_signal.shape
    warped = _pull(moving.signals[factor], reference_to_moving, shape, order=1)
    warped_usable = _pull(moving.usable[factor].astype(np.float32), reference_to_moving, shape, order=1) > 0.99
    weight = reference.usable[factor] & warped_usable
    if weight.sum() < 0.1 * weight.size:
        return -1.0
    first, second = reference_signal[weight], warped[weight]
    first, second = first - first.mean(), second - second.mean()
    denominator = np.sqrt((first * first).sum() * (second * second).sum())
    return float((first * second).sum() / denominator) if denominator > 0 else -1.0


def _search(reference: _PhotoViews, moving: _PhotoViews) -> tuple[np.ndarray, float]:
    """The moving->reference matrix in working pixels, and the skin's correlation under it."""
    pivot = moving.lesion_centre
    # Global search on the whole photos: the lesion centres give the first shift; a grid of rotations and
    # zooms is scored at the coarsest level, the best few refined level by level.
    shift = reference.lesion_centre - moving.lesion_centre
    starts = [np.zeros(4)] + [
        np.array([shift[0], shift[1], float(angle), log_scale])
        for angle in COARSE_ANGLES_DEGREES
        for log_scale in COARSE_LOG_SCALES
    ]
    whole = (reference.whole, moving.whole)
    candidates = _refine_best(*whole, starts, pivot, PYRAMID_FACTORS[0], keep=COARSE_CANDIDATES_REFINED)
    # The finest level is left to the skin stage below: the whole-photo search only has to land close.
    for factor in PYRAMID_FACTORS[1:-1]:
        candidates = _refine_best(*whole, candidates[:FINAL_CANDIDATES], pivot, factor, keep=FINAL_CANDIDATES)
    # Local refinement on the skin alone sets the reported zoom, so lesion growth is not absorbed into it.
    parameters = candidates[0]
    for factor in PYRAMID_FACTORS[1:]:
        parameters = _maximise(reference.skin, moving.skin, parameters, pivot, factor)
    matrix = _similarity(parameters, pivot)
    return matrix, _correlation(reference.skin, moving.skin, matrix, PYRAMID_FACTORS[-1])


def _refine_best(reference, moving, starts, pivot, factor: int, *, keep: int) -> list[np.ndarray]:
    """Score every start at one pyramid level and return the best `keep`, each refined there (best first)."""

    def score(parameters: np.ndarray) -> float:
        return _correlation(reference, moving, _similarity(parameters, pivot), factor)

    best = sorted(starts, key=score, reverse=True)[:keep]
    refined = [_maximise(reference, moving, parameters, pivot, factor) for parameters in best]
    return sorted(refined, key=score, reverse=True)


def _maximise(reference, moving, parameters: np.ndarray, pivot: np.ndarray, factor: int) -> np.ndarray:
    result = optimize.minimize(
        lambda candidate: -_correlation(reference, moving, _similarity(candidate, pivot), factor),
        parameters,
        method="Powell",
        options={"xtol": 0.05, "ftol": 1e-4, "maxfev": 300},
    )
    return result.x


def _to_full_resolution(working_matrix: np.ndarray, reference_scale: float, moving_scale: float) -> SimilarityTransform:
    to_reference = np.diag([1 / reference_scale, 1 / reference_scale, 1.0])
    from_moving = np.diag([moving_scale, moving_scale, 1.0])
    # Pixel centres: working = scale * (original + 0.5) - 0.5.
    to_reference[:2, 2] = (1 / reference_scale - 1) / 2
    from_moving[:2, 2] = (moving_scale - 1) / 2
    matrix = to_reference @ working_matrix @ from_moving
    scale = float(np.hypot(matrix[0, 0], matrix[1, 0]))
    rotation = float(np.rad2deg(np.arctan2(matrix[1, 0], matrix[0, 0])))
    return SimilarityTransform(rotation, scale, float(matrix[0, 2]), float(matrix[1, 2]))
