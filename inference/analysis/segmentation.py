"""Lesion segmentation: the learned segmenter (`inference.analysis.learned_segmenter`) where its model file is
shipped (unless SKINTRACK_SEGMENTER=classical), and the classical one (numpy + scipy only) otherwise, or where the
learned one finds no lesion at all.

Classical pipeline, at a fixed working size so that the tuned pixel radii mean the same for any input:
1. remove hairs with a grey-level closing (thin dark lines vanish, the lesion stays);
2. mark the dermoscope's dark vignette (very dark regions joined to the image corners) as unusable;
3. estimate the skin colour from the brighter part of the image border and score every pixel by its
   Lab distance from that skin colour;
4. a scaled Otsu threshold gives a first outline; the final threshold then sits a tuned fraction of the way
   from the skin's level to the lesion's (less swayed than Otsu by how much of the photo the lesion fills, so
   a close-up and a wide shot of one lesion get similar outlines);
5. clean up: opening, keep the component that is large and central, fill holes, grow by a tuned margin
   (the HAM10000 annotators drew generous outlines).
The parameters were tuned on the training split only; `inference.training.segmentation_eval` measures them on the
validation split.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image
from scipy import ndimage

from inference.analysis.color import rgb_to_lab
from inference.analysis.learned_segmenter import learned_segmenter, learned_segmenter_serves
from inference.analysis.sizes import SEGMENTATION_LONG_SIDE


@dataclass(frozen=True)
class SegmentationParams:
    hair_closing_radius: int = 3
    smoothing_sigma: float = 1.5
    vignette_lightness: float = 20.0
    border_band_fraction: float = 0.08
    skin_quantile: float = 0.8
    lightness_weight: float = 0.7
    threshold_scale: float = 0.9
    opening_radius: int = 2
    centre_sigma: float = 0.35
    outline_closing_radius: int = 8
    grow_radius: int = 3
    contrast_fraction: float = 0.4


DEFAULT_PARAMS = SegmentationParams()


def segment_lesion(image) -> np.ndarray:
    """Return an HxW boolean lesion mask for an RGB image (PIL.Image or HxWx3 array) of any size: the learned
    segmenter's (`inference.analysis.learned_segmenter`) where it serves and finds a lesion, else the classical
    one's."""
    rgb = _as_rgb_array(image)
    if learned_segmenter_serves() and (learned := segment_lesion_learned(rgb)).any():
        return learned
    return segment_lesion_classical(rgb)


def segment_lesion_learned(image) -> np.ndarray:
    """The learned segmenter's HxW boolean lesion mask (its model file must be shipped)."""
    return learned_segmenter().segment(_as_rgb_array(image), choose_region=_choose_learned_region)


def _choose_learned_region(candidate: np.ndarray) -> np.ndarray:
    return _most_central_large_component(candidate, DEFAULT_PARAMS.centre_sigma)


def segment_lesion_classical(image, *, params: SegmentationParams = DEFAULT_PARAMS) -> np.ndarray:
    """The classical (colour threshold) HxW boolean lesion mask for an RGB image of any size."""
    rgb = _as_rgb_array(image)
    height, width = rgb.shape[:2]
    working = _resize_rgb(rgb, _working_size(width, height))
    mask = _segment_working(working, params)
    if mask.shape != (height, width):
        mask = _resize_mask(mask, (width, height))
    return mask


def _as_rgb_array(image) -> np.ndarray:
    if isinstance(image, Image.Image):
        return np.asarray(image.convert("RGB"))
    array = np.asarray(image)
    if array.ndim == 2:
        array = np.repeat(array[..., None], 3, axis=2)
    if array.dtype != np.uint8:
        array = np.clip(array * 255.0 if array.max() <= 1.0 else array, 0, 255).astype(np.uint8)
    return array[..., :3]


def _working_size(width: int, height: int) -> tuple[int, int]:
    scale = SEGMENTATION_LONG_SIDE / max(width, height)
    return max(1, round(width * scale)), max(1, round(height * scale))


def _resize_rgb(rgb: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    if (rgb.shape[1], rgb.shape[0]) == size:
        return rgb
    return np.asarray(Image.fromarray(rgb).resize(size, Image.Resampling.BOX))


def _resize_mask(mask: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    soft = Image.fromarray(mask.astype(np.float32)).resize(size, Image.Resampling.BILINEAR)
    return np.asarray(soft) >= 0.5


def _disk(radius: int) -> np.ndarray:
    offsets = np.arange(-radius, radius + 1)
    return offsets[:, None] ** 2 + offsets[None, :] ** 2 <= radius**2


def _segment_working(rgb: np.ndarray, params: SegmentationParams) -> np.ndarray:
    lab = rgb_to_lab(_remove_hair(rgb, params.hair_closing_radius))
    lab = ndimage.gaussian_filter(lab, sigma=(params.smoothing_sigma, params.smoothing_sigma, 0))
    usable = ~dark_vignette(lab[..., 0], dark_limit=params.vignette_lightness)
    skin_sample = _border_band(usable.shape, params.border_band_fraction) & usable
    lesion = _threshold_lesion(lab, usable, skin_sample, params)
    if params.outline_closing_radius:
        lesion = ndimage.binary_closing(lesion, structure=_disk(params.outline_closing_radius), border_value=0)
        lesion = ndimage.binary_fill_holes(lesion)
    if params.grow_radius:
        lesion = ndimage.binary_dilation(lesion, structure=_disk(params.grow_radius)) & usable
    return lesion


def _threshold_lesion(lab, usable, skin_sample, params: SegmentationParams) -> np.ndarray:
    score = _skin_distance(lab, usable, skin_sample, params)
    lesion = _central_region(score > _otsu(score[usable]) * params.threshold_scale, usable, params)
    if params.contrast_fraction and lesion.any() and (usable & ~lesion).any():
        inside = np.median(score[lesion])
        outside = np.median(score[usable & ~ndimage.binary_dilation(lesion, structure=_disk(3))])
        threshold = outside + params.contrast_fraction * (inside - outside)
        lesion = _central_region(score > threshold, usable, params)
    return lesion


def _central_region(candidate: np.ndarray, usable: np.ndarray, params: SegmentationParams) -> np.ndarray:
    candidate = ndimage.binary_opening(candidate & usable, structure=_disk(params.opening_radius))
    return ndimage.binary_fill_holes(_most_central_large_component(candidate, params.centre_sigma))


def _remove_hair(rgb: np.ndarray, radius: int) -> np.ndarray:
    if radius <= 0:
        return rgb
    footprint = _disk(radius)
    return np.stack([ndimage.grey_closing(rgb[..., channel], footprint=footprint) for channel in range(3)], axis=-1)


def dark_vignette(lightness: np.ndarray, *, dark_limit: float = 20.0) -> np.ndarray:
    """Very dark regions that touch an image corner: the dermoscope's round field of view."""
    labels, _ = ndimage.label(lightness < dark_limit)
    corner_labels = {labels[0, 0], labels[0, -1], labels[-1, 0], labels[-1, -1]} - {0}
    return np.isin(labels, list(corner_labels))


def _border_band(shape: tuple[int, int], fraction: float) -> np.ndarray:
    band = max(1, round(fraction * min(shape)))
    border = np.zeros(shape, dtype=bool)
    border[:band, :] = border[-band:, :] = border[:, :band] = border[:, -band:] = True
    return border


def _skin_distance(lab, usable, skin_sample, params: SegmentationParams) -> np.ndarray:
    skin_pixels = lab[skin_sample]
    if len(skin_pixels) == 0:
        skin_pixels = lab[usable] if usable.any() else lab.reshape(-1, 3)
    # The brighter part of the sample is skin even when the lesion reaches into it.
    bright = skin_pixels[:, 0] >= np.quantile(skin_pixels[:, 0], params.skin_quantile)
    skin = np.median(skin_pixels[bright], axis=0)
    weights = np.array([params.lightness_weight, 1.0, 1.0])
    return np.sqrt((((lab - skin) * weights) ** 2).sum(axis=-1))


def _otsu(values: np.ndarray, bins: int = 256) -> float:
    if values.size == 0:
        return 0.0
    counts, edges = np.histogram(values, bins=bins)
    centres = (edges[:-1] + edges[1:]) / 2
    weight_below = np.cumsum(counts)
    weight_above = weight_below[-1] - weight_below
    sum_below = np.cumsum(counts * centres)
    mean_below = sum_below / np.maximum(weight_below, 1)
    mean_above = (sum_below[-1] - sum_below) / np.maximum(weight_above, 1)
    between_class_variance = weight_below * weight_above * (mean_below - mean_above) ** 2
    return float(centres[np.argmax(between_class_variance)])


def _most_central_large_component(candidate: np.ndarray, centre_sigma: float) -> np.ndarray:
    labels, count = ndimage.label(candidate)
    if count == 0:
        return candidate
    height, width = candidate.shape
    rows, cols = np.mgrid[0:height, 0:width]
    # Normalised distance from the image centre, 1.0 at the middle of each edge.
    distance = np.hypot((rows - (height - 1) / 2) / (height / 2), (cols - (width - 1) / 2) / (width / 2))
    centrality = np.exp(-((distance / centre_sigma) ** 2) / 2)
    scores = ndimage.sum(centrality, labels, index=np.arange(1, count + 1))
    return labels == (1 + int(np.argmax(scores)))
