"""Automatic alignment of two photos of the same lesion, on the skin around the lesion.

The lesion itself is left out of the match on purpose: if it grew, matching it would read the growth as a
zoom and cancel it. The skin texture, hairs' absence, vignette-free surroundings and the image framing carry
the rotation, shift and zoom between the two photos; the lesion masks only give the first guess of the shift.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from PIL import Image
from scipy import ndimage, optimize

from inference.seg_color import rgb_to_lab
from inference.segmentation import dark_vignette, segment_lesion

REGISTRATION_LONG_SIDE = 160
PYRAMID_FACTORS = (4, 2, 1)
LESION_MARGIN_FRACTION = 0.04
COARSE_ANGLES_DEGREES = tuple(range(-180, 180, 15))
COARSE_LOG_SCALES = tuple(np.log([0.6, 0.75, 1.0, 1.33, 1.67]))
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
    reference_view = _MatchView.build(reference_rgb, reference_mask)
    moving_view = _MatchView.build(moving_rgb, moving_mask)
    working_transform, correlation = _search(reference_view, moving_view)
    transform = _to_full_resolution(working_transform, reference_view.scale, moving_view.scale)
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
    reference_to_moving = np.linalg.inv(transform.matrix)
    channels = [
        _pull(moving_rgb[..., channel].astype(np.float32), reference_to_moving, reference_shape, order=1)
        for channel in range(3)
    ]
    inside = _pull(np.ones(moving_rgb.shape[:2], np.float32), reference_to_moving, reference_shape, order=1) > 0.5
    return np.clip(np.stack(channels, axis=-1), 0, 255).astype(np.uint8), inside


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
    """One photo prepared for matching: band-passed lightness and where it may be used, per pyramid level."""

    scale: float  # working pixels per original pixel
    signals: dict[int, np.ndarray]
    usable: dict[int, np.ndarray]
    lesion_centre: np.ndarray  # (x, y) in working pixels

    @classmethod
    def build(cls, rgb: np.ndarray, lesion_mask: np.ndarray) -> _MatchView:
        height, width = rgb.shape[:2]
        scale = REGISTRATION_LONG_SIDE / max(height, width)
        size = (max(8, round(width * scale)), max(8, round(height * scale)))
        lightness = rgb_to_lab(np.asarray(Image.fromarray(rgb).resize(size, Image.Resampling.BOX)))[..., 0]
        lesion = np.asarray(Image.fromarray(lesion_mask.astype(np.uint8) * 255).resize(size)) >= 128
        margin = max(1, round(LESION_MARGIN_FRACTION * REGISTRATION_LONG_SIDE))
        usable = ~ndimage.binary_dilation(lesion, iterations=margin) & ~dark_vignette(lightness)
        # Band-pass of the skin alone (normalised convolution, so neither the lesion nor a black frame bleeds
        # into it): keeps skin texture and hairs, drops uneven lighting.
        signal = _masked_blur(lightness, usable, 1.0) - _masked_blur(lightness, usable, 12.0)
        if lesion.any():
            rows, cols = np.nonzero(lesion)
            centre = np.array([cols.mean(), rows.mean()])
        else:
            centre = np.array([(size[0] - 1) / 2, (size[1] - 1) / 2])
        signals, usables = {}, {}
        for factor in PYRAMID_FACTORS:
            signals[factor] = _block_mean(signal, factor)
            usables[factor] = _block_mean(usable.astype(np.float32), factor) > 0.99
        return cls(scale, signals, usables, centre)


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
    """Correlation of the two band-passed lightness images over skin usable in both, after alignment."""
    reference_signal = reference.signals[factor]
    level_matrix = _at_level(matrix, factor)
    reference_to_moving = np.linalg.inv(level_matrix)
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


def _search(reference: _MatchView, moving: _MatchView) -> tuple[np.ndarray, float]:
    pivot = moving.lesion_centre
    # The lesion centres give the first guess of the shift; rotations and zooms on a grid are tried at the
    # coarsest level, and only the best few are refined.
    shift = reference.lesion_centre - moving.lesion_centre
    starts = [np.array([0.0, 0.0, 0.0, 0.0])]
    starts += [
        np.array([shift[0], shift[1], float(angle), log_scale])
        for angle in COARSE_ANGLES_DEGREES
        for log_scale in COARSE_LOG_SCALES
    ]
    ranked = _refine_best(reference, moving, starts, pivot, PYRAMID_FACTORS[0], keep=COARSE_CANDIDATES_REFINED)
    best_parameters, best_correlation = ranked[0], -np.inf
    for parameters in ranked[:FINAL_CANDIDATES]:
        for factor in PYRAMID_FACTORS[1:]:
            parameters = _maximise(reference, moving, parameters, pivot, factor)
        correlation = _correlation(reference, moving, _similarity(parameters, pivot), PYRAMID_FACTORS[-1])
        if correlation > best_correlation:
            best_parameters, best_correlation = parameters, correlation
    return _similarity(best_parameters, pivot), best_correlation


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
