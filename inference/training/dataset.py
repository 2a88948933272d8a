"""HAM10000 split, augmentation and the on-disk caches training reads.

Every image, augmented or not, goes through `preprocessing.preprocess`, the same function
serving uses; the caches store its output losslessly as uint8 ((x * 128) + 127 is exact).
"""

from __future__ import annotations

import csv
import logging
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageEnhance

from inference.paths import SPLIT_CSV
from inference.serving import preprocessing
from inference.serving.labels import CLASSES, DX_TYPES

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Split:
    image_ids: tuple[str, ...]
    diagnosis: np.ndarray  # int index into CLASSES
    dx_type: np.ndarray  # int index into DX_TYPES
    lesion_ids: tuple[str, ...] = ()  # images of one lesion are not independent: resample them together


def read_split(*, split_csv: Path = SPLIT_CSV, name: str) -> Split:
    with open(split_csv, newline="") as handle:
        rows = [row for row in csv.DictReader(handle) if row["split"] == name]
    return Split(
        image_ids=tuple(row["image_id"] for row in rows),
        diagnosis=np.array([CLASSES.index(row["dx"]) for row in rows], dtype=np.int64),
        dx_type=np.array([DX_TYPES.index(row["dx_type"]) for row in rows], dtype=np.int64),
        lesion_ids=tuple(row["lesion_id"] for row in rows),
    )


def balanced_weights(labels: np.ndarray, *, n_classes: int, sample_weights: np.ndarray | None = None) -> np.ndarray:
    """Per-class weights 1 / (k * p_c), p_c the class's share of the (optionally weighted) samples: every class then
    contributes equally to the loss."""
    share = np.bincount(labels, weights=sample_weights, minlength=n_classes).astype(np.float64)
    share /= share.sum()
    return (1 / (n_classes * np.maximum(share, 1e-12))).astype(np.float32)


def sampling_probabilities(labels: np.ndarray, *, power: float) -> np.ndarray:
    """Per-sample draw probabilities proportional to n_class ** -power (0: uniform; 1: every class equally often)."""
    counts = np.bincount(labels).astype(np.float64)
    weights = counts[labels] ** -power
    return weights / weights.sum()


def augment(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    """A random view of a dermoscopic image: any orientation, zoom, framing and mild colour shift.

    Lesions have no canonical orientation, so all 8 dihedral transforms are valid; random
    crops make the model indifferent to how tightly a clinic frames the lesion.
    """
    image = image.transpose(Image.Transpose.ROTATE_90) if rng.random() < 0.5 else image
    image = image.transpose(Image.Transpose.FLIP_LEFT_RIGHT) if rng.random() < 0.5 else image
    image = image.transpose(Image.Transpose.FLIP_TOP_BOTTOM) if rng.random() < 0.5 else image
    image = image.rotate(rng.uniform(-20, 20), resample=Image.Resampling.BILINEAR)

    width, height = image.size
    area = rng.uniform(0.35, 1.0) * min(width, height) ** 2
    aspect = np.exp(rng.uniform(np.log(0.8), np.log(1.25)))
    crop_w = int(min(width, round(np.sqrt(area * aspect))))
    crop_h = int(min(height, round(np.sqrt(area / aspect))))
    left = int(rng.integers(0, width - crop_w + 1))
    top = int(rng.integers(0, height - crop_h + 1))
    image = image.crop((left, top, left + crop_w, top + crop_h))

    for enhancer in (ImageEnhance.Brightness, ImageEnhance.Contrast, ImageEnhance.Color):
        image = enhancer(image).enhance(rng.uniform(0.8, 1.2))
    return image


def to_uint8(preprocessed: np.ndarray) -> np.ndarray:
    return np.rint(preprocessed * preprocessing.PIXEL_SCALE + preprocessing.PIXEL_OFFSET).astype(np.uint8)


def render_variant(image_path: Path, *, size: int, variant: int, seed: int) -> np.ndarray:
    """Variant 0 is the plain serving view; others are seeded augmentations of it. uint8 output."""
    image = preprocessing.load_rgb(image_path)
    if variant:
        image = augment(image, np.random.default_rng([seed, variant, zlib.crc32(image_path.stem.encode())]))
    return to_uint8(preprocessing.preprocess(image, size=size))


def pixel_cache(
    *, image_dir: Path, image_ids: tuple[str, ...], cache_file: Path, size: int, variant: int, seed: int
) -> np.ndarray:
    """uint8 (n, size, size, 3) for one variant of a split, built once and reused."""
    if cache_file.exists():
        return np.load(cache_file, mmap_mode="r")
    log.info("rendering %d images (variant %d) -> %s", len(image_ids), variant, cache_file)
    pixels = np.stack(
        [render_variant(image_dir / f"{image_id}.jpg", size=size, variant=variant, seed=seed) for image_id in image_ids]
    )
    cache_file.parent.mkdir(parents=True, exist_ok=True)
    partial = cache_file.with_suffix(".partial.npy")
    np.save(partial, pixels)
    partial.rename(cache_file)  # a stop mid-write never leaves a truncated cache behind
    return pixels
