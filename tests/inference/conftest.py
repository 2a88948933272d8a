"""Fixtures for the classifier tests: real HAM10000 images when present, and a synthetic dataset."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from inference.paths import DEFAULT_DATA_DIR
from inference.serving.labels import CLASSES, DX_TYPES

HAM10000_DIR = DEFAULT_DATA_DIR


@pytest.fixture(scope="session")
def lesion_images() -> list[Path]:
    """A few real dermoscopic images: 200x150 copies and 600x450 originals."""
    images = sorted((HAM10000_DIR / "images").glob("*.jpg"))[:6]
    images += sorted((HAM10000_DIR / "originals").glob("*.jpg"))[:2]
    if len(images) < 8:
        pytest.skip(f"HAM10000 images not found under {HAM10000_DIR}")
    return images


def _synthetic_lesion(rng: np.random.Generator, class_index: int) -> Image.Image:
    """A 200x150 'lesion': a blob whose colour and size depend on the class, on noisy skin."""
    yy, xx = np.mgrid[0:150, 0:200]
    radius = 20 + 5 * class_index
    blob = ((xx - 100 - rng.integers(-15, 16)) ** 2 + (yy - 75 - rng.integers(-10, 11)) ** 2) < radius**2
    skin = np.array([220, 170, 150], dtype=np.float64) + rng.normal(0, 8, (150, 200, 3))
    colour = np.array([40 + 30 * class_index, 30, 200 - 25 * class_index], dtype=np.float64)
    pixels = np.where(blob[..., None], colour, skin)
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))


@pytest.fixture()
def synthetic_dataset(tmp_path: Path) -> tuple[Path, Path]:
    """(data dir with images/, split CSV): 4 train and 2 validation images for each class."""
    rng = np.random.default_rng(0)
    (tmp_path / "images").mkdir()
    rows = []
    for class_index, dx in enumerate(CLASSES):
        for number in range(6):
            image_id = f"SYN_{class_index}{number:02d}"
            _synthetic_lesion(rng, class_index).save(tmp_path / "images" / f"{image_id}.jpg", quality=90)
            rows.append(
                {
                    "image_id": image_id,
                    "lesion_id": f"LES_{image_id}",
                    "dx": dx,
                    "dx_type": DX_TYPES[number % len(DX_TYPES)],
                    "split": "train" if number < 4 else "validation",
                }
            )
    split_csv = tmp_path / "split.csv"
    with open(split_csv, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return tmp_path, split_csv
