"""The learned lesion segmenter, served with ONNX Runtime on CPU (no TensorFlow): numpy, Pillow, scipy.

The graph (`inference.training.train_segmenter`) maps a photo resized to its landscape input frame, pixels in
[-1, 1], to a lesion probability per pixel. The probability map is cleaned up at the model's resolution (the most
central large region, holes filled: one lesion per photo, as the annotators drew it) and only then resized to the
photo, so a 12-megapixel photo costs little more than a small one.
"""

from __future__ import annotations

import json
import os
from functools import cache
from pathlib import Path

import numpy as np
from PIL import Image
from scipy import ndimage

from inference.paths import LEARNED_SEGMENTER_PATH
from inference.serving.preprocessing import normalise

LESION_PROBABILITY = 0.5
BLACK_LEVEL = 16  # 8-bit: darker than any lit skin
LIT_SHARE_OF_CONTENT = 0.02  # a row or column with fewer lit pixels is padding


class LearnedSegmenter:
    def __init__(self, path: Path, *, threads: int | None = None):
        import onnxruntime

        metadata = json.loads(path.with_suffix(".json").read_text())
        self.width, self.height = int(metadata["input"]["width"]), int(metadata["input"]["height"])
        self.name = metadata["name"]
        options = onnxruntime.SessionOptions()
        # Idle ORT threads spin by default, stealing CPU from the rest of the worker on a few shared cores.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        if threads:
            options.intra_op_num_threads = threads
        self._session = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])

    def probability(self, rgb: np.ndarray) -> np.ndarray:
        """Lesion probability (float32) at the model's resolution, in the photo's orientation."""
        portrait = rgb.shape[0] > rgb.shape[1]
        landscape = rgb.transpose(1, 0, 2) if portrait else rgb
        pixels = np.asarray(
            Image.fromarray(np.ascontiguousarray(landscape)).resize(
                (self.width, self.height), Image.Resampling.BILINEAR
            )
        )
        [probability] = self._session.run(["lesion_probability"], {"image": normalise(pixels)[None]})
        probability = probability[0, ..., 0]
        return probability.T if portrait else probability

    def segment(self, rgb: np.ndarray, *, choose_region) -> np.ndarray:
        """HxW boolean mask at the photo's size; `choose_region(candidate)` keeps the lesion's region."""
        rows, cols = content_box(rgb)
        content = rgb[rows, cols]
        probability = self.probability(content)
        region = ndimage.binary_fill_holes(choose_region(probability >= LESION_PROBABILITY))
        # Keep the soft edge just around the chosen region so the outline resizes smoothly, and nothing else.
        near = ndimage.binary_dilation(region, iterations=2)
        cleaned = np.where(region, np.maximum(probability, LESION_PROBABILITY), np.where(near, probability, 0.0))
        height, width = content.shape[:2]
        if cleaned.shape != (height, width):
            cleaned = np.asarray(
                Image.fromarray(cleaned.astype(np.float32)).resize((width, height), Image.Resampling.BILINEAR)
            )
        mask = np.zeros(rgb.shape[:2], dtype=bool)
        mask[rows, cols] = cleaned >= LESION_PROBABILITY
        return mask


def content_box(rgb: np.ndarray) -> tuple[slice, slice]:
    """The photo without the black bands along its edges (a photo zoomed out or letterboxed onto black). The model
    learnt from photos that fill their frame: the first learned segmenter outlined training-split photos zoomed out
    x0.8 onto black about 12% larger, and as in the photo itself once the bands were cut off."""
    lit = rgb.max(axis=2) > BLACK_LEVEL
    rows = np.flatnonzero(lit.mean(axis=1) > LIT_SHARE_OF_CONTENT)
    cols = np.flatnonzero(lit.mean(axis=0) > LIT_SHARE_OF_CONTENT)
    if rows.size == 0 or cols.size == 0:
        return slice(None), slice(None)
    return slice(rows[0], rows[-1] + 1), slice(cols[0], cols[-1] + 1)


@cache  # one ONNX Runtime session per process
def learned_segmenter(path: Path = LEARNED_SEGMENTER_PATH) -> LearnedSegmenter | None:
    """The shipped learned segmenter, or None where its file is not present."""
    if not path.is_file() or not path.with_suffix(".json").is_file():
        return None
    return LearnedSegmenter(path)


def learned_segmenter_serves() -> bool:
    """Whether the learned segmenter outlines photos in the worker and pages: wherever its file is shipped, unless
    SKINTRACK_SEGMENTER=classical. On real dermoscopic photos it measures better than the classical one on every
    figure (docs/model-card.md)."""
    return os.environ.get("SKINTRACK_SEGMENTER", "learned") != "classical" and learned_segmenter() is not None
