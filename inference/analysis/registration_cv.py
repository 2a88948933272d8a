"""Alignment of two photos of one lesion with OpenCV, to prove (or replace) the hand-written registration.

Two library stages, as in `inference.analysis.registration`: ORB features matched over the whole photos (lesion
included: it is the most distinctive structure) and a RANSAC similarity (`estimateAffinePartial2D`) give the
rough rotation, zoom and shift; ECC (`findTransformECC`) then refines it on the band-passed skin AROUND the lesion
only (the lesion masked out), so a lesion that grew is not read as a zoom. The quality is the correlation of that
skin after alignment, on the same 0-1 scale as the hand-written registration.
"""

from __future__ import annotations

import cv2
import numpy as np
from scipy import ndimage

from inference.analysis.color import rgb_to_lab
from inference.analysis.registration import (
    LESION_MARGIN_FRACTION,
    REGISTRATION_LONG_SIDE,
    Registration,
    SimilarityTransform,
    _rgb,
    describe_quality,
    warp_into_reference,
)
from inference.analysis.segmentation import dark_vignette, segment_lesion

ORB_FEATURES = 1500
RANSAC_REPROJECTION_PIXELS = 3.0
MIN_INLIERS = 8
ECC_ITERATIONS = 100
ECC_EPSILON = 1e-5


def register_opencv(
    reference, moving, *, reference_mask: np.ndarray | None = None, moving_mask: np.ndarray | None = None
) -> Registration:
    """Align `moving` onto `reference` (RGB arrays or PIL images of any size); masks are segmented when not given."""
    reference, moving = _rgb(reference), _rgb(moving)
    if reference_mask is None:
        reference_mask = segment_lesion(reference)
    if moving_mask is None:
        moving_mask = segment_lesion(moving)
    reference_view, moving_view = _View.build(reference, reference_mask), _View.build(moving, moving_mask)
    # Features on the skin alone first (a grown lesion's own features would read its growth as zoom), then on the
    # whole photos, then the lesions' centres.
    rough = next(
        (
            found
            for where in ("skin", "field")
            if (found := _orb_similarity(reference_view, moving_view, where=where)) is not None
        ),
        None,
    )
    if rough is None:
        rough = _centre_shift(reference_view, moving_view)
    working, quality = _ecc_refine(reference_view, moving_view, rough)
    transform = _to_full_resolution(working, reference_view.scale, moving_view.scale)
    aligned, overlap = warp_into_reference(moving, transform, reference.shape[:2])
    return Registration(transform, aligned, overlap, quality, describe_quality(quality))


class _View:
    def __init__(self, *, scale, grey, band, field, skin, centre):
        self.scale, self.grey, self.band, self.field, self.skin, self.centre = scale, grey, band, field, skin, centre

    @classmethod
    def build(cls, rgb: np.ndarray, lesion_mask: np.ndarray) -> _View:
        height, width = rgb.shape[:2]
        scale = REGISTRATION_LONG_SIDE / max(height, width)
        size = (max(8, round(width * scale)), max(8, round(height * scale)))
        small = cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)
        lightness = rgb_to_lab(small)[..., 0].astype(np.float32)
        lesion = cv2.resize(lesion_mask.astype(np.uint8), size, interpolation=cv2.INTER_NEAREST).astype(bool)
        field = ~dark_vignette(lightness)
        margin = max(1, round(LESION_MARGIN_FRACTION * REGISTRATION_LONG_SIDE))
        skin = field & ~ndimage.binary_dilation(lesion, iterations=margin)
        # Band-pass of the skin alone (normalised convolution, so the lesion and a black frame do not bleed into
        # it): texture and edges stay, uneven lighting goes.
        band = _masked_blur(lightness, skin, 1.0) - _masked_blur(lightness, skin, 12.0)
        rows, cols = np.nonzero(lesion) if lesion.any() else np.nonzero(np.ones_like(lesion))
        grey = np.clip(lightness * 2.55, 0, 255).astype(np.uint8)
        return cls(
            scale=scale,
            grey=grey,
            band=band.astype(np.float32),
            field=field,
            skin=skin,
            centre=np.array([cols.mean(), rows.mean()]),
        )


def _masked_blur(image: np.ndarray, weight: np.ndarray, sigma: float) -> np.ndarray:
    weight = weight.astype(np.float32)
    blurred_weight = cv2.GaussianBlur(weight, (0, 0), sigma)
    return cv2.GaussianBlur(image * weight, (0, 0), sigma) / np.maximum(blurred_weight, 1e-6)


def _orb_similarity(reference: _View, moving: _View, *, where: str) -> np.ndarray | None:
    """Moving->reference 2x3 similarity (working pixels) from ORB matches within each view's `where` mask
    ("skin" or "field") and RANSAC, or None if too few agree."""
    orb = cv2.ORB_create(nfeatures=ORB_FEATURES, edgeThreshold=15, patchSize=15, fastThreshold=5)
    reference_points, reference_descriptors = orb.detectAndCompute(
        reference.grey, getattr(reference, where).astype(np.uint8)
    )
    moving_points, moving_descriptors = orb.detectAndCompute(moving.grey, getattr(moving, where).astype(np.uint8))
    if reference_descriptors is None or moving_descriptors is None:
        return None
    matches = cv2.BFMatcher(cv2.NORM_HAMMING, crossCheck=True).match(moving_descriptors, reference_descriptors)
    if len(matches) < MIN_INLIERS:
        return None
    source = np.float32([moving_points[match.queryIdx].pt for match in matches])
    target = np.float32([reference_points[match.trainIdx].pt for match in matches])
    matrix, inliers = cv2.estimateAffinePartial2D(
        source, target, method=cv2.RANSAC, ransacReprojThreshold=RANSAC_REPROJECTION_PIXELS
    )
    if matrix is None or int(inliers.sum()) < MIN_INLIERS:
        return None
    return matrix


def _centre_shift(reference: _View, moving: _View) -> np.ndarray:
    shift = reference.centre - moving.centre
    return np.array([[1.0, 0.0, shift[0]], [0.0, 1.0, shift[1]]])


def _ecc_refine(reference: _View, moving: _View, start: np.ndarray) -> tuple[np.ndarray, float]:
    """ECC on the skin's band-passed lightness; returns the refined similarity and its correlation (0 if it
    failed to converge, keeping the rough estimate)."""
    # ECC warps the input (moving) into the template (reference) frame with the reference->moving mapping.
    reference_to_moving = cv2.invertAffineTransform(start).astype(np.float32)
    criteria = (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, ECC_ITERATIONS, ECC_EPSILON)
    try:
        correlation, reference_to_moving = cv2.findTransformECCWithMask(
            reference.band,
            moving.band,
            reference.skin.astype(np.uint8),
            moving.skin.astype(np.uint8),
            reference_to_moving,
            cv2.MOTION_AFFINE,
            criteria,
            1,
        )
    except cv2.error:
        return start, 0.0
    return _nearest_similarity(cv2.invertAffineTransform(reference_to_moving)), float(np.clip(correlation, 0, 1))


def _nearest_similarity(affine: np.ndarray) -> np.ndarray:
    """The rotation + uniform zoom closest to an affine's linear part (its polar decomposition), same shift."""
    linear = affine[:, :2].astype(np.float64)
    left, singular, right = np.linalg.svd(linear)
    rotation = left @ right
    similarity = np.zeros((2, 3))
    similarity[:, :2] = rotation * singular.mean()
    similarity[:, 2] = affine[:, 2]
    return similarity


def _to_full_resolution(working: np.ndarray, reference_scale: float, moving_scale: float) -> SimilarityTransform:
    matrix = np.vstack([working, [0.0, 0.0, 1.0]])
    to_reference = np.diag([1 / reference_scale, 1 / reference_scale, 1.0])
    from_moving = np.diag([moving_scale, moving_scale, 1.0])
    to_reference[:2, 2] = (1 / reference_scale - 1) / 2
    from_moving[:2, 2] = (moving_scale - 1) / 2
    matrix = to_reference @ matrix @ from_moving
    scale = float(np.hypot(matrix[0, 0], matrix[1, 0]))
    rotation = float(np.rad2deg(np.arctan2(matrix[1, 0], matrix[0, 0])))
    return SimilarityTransform(rotation, scale, float(matrix[0, 2]), float(matrix[1, 2]))
