"""The one image preprocessing path shared by training, evaluation and serving.

numpy + Pillow only, so the worker can import it without TensorFlow.
"""

from __future__ import annotations

import io
import os

import numpy as np
from PIL import ExifTags, Image, ImageOps

# (pixel - OFFSET) / SCALE: the [-1, 1] scaling the Lite0 ImageNet weights were trained with.
PIXEL_OFFSET = 127.0
PIXEL_SCALE = 128.0

ImageInput = Image.Image | bytes | str | os.PathLike


def load_rgb(image: ImageInput) -> Image.Image:
    """Open an upload (PIL image, path or bytes) upright and in RGB."""
    if isinstance(image, (bytes, bytearray, memoryview)):
        image = Image.open(io.BytesIO(image))
    elif not isinstance(image, Image.Image):
        image = Image.open(image)
    if image.getexif().get(ExifTags.Base.Orientation, 1) != 1:
        # Phone uploads carry their rotation in EXIF; the pixels alone are sideways.
        image = ImageOps.exif_transpose(image)
    # The worker decodes each upload once and hands the upright RGB image to the gate and the classifier, which
    # call this again: copying it each time cost ~50 ms a call on a 12-megapixel phone photo.
    return image if image.mode == "RGB" else image.convert("RGB")


def frame_pixels(image: Image.Image, *, size: int) -> np.ndarray:
    """Centre-square crop then resize: uint8 (size, size, 3).

    The centre square keeps the lesion (dermoscopy centres it) and makes 4:3 frames,
    square crops and larger originals all land on the same framing.
    """
    width, height = image.size
    side = min(width, height)
    left, top = (width - side) // 2, (height - side) // 2
    square = image.crop((left, top, left + side, top + side))
    # Pillow's resize filters antialias when shrinking, so 600x450 originals are not aliased.
    return np.asarray(square.resize((size, size), Image.Resampling.BILINEAR), dtype=np.uint8)


def normalise(pixels: np.ndarray) -> np.ndarray:
    """uint8 pixels -> float32 in [-1, 1]."""
    return (pixels.astype(np.float32) - PIXEL_OFFSET) / PIXEL_SCALE


def preprocess(image: ImageInput, *, size: int) -> np.ndarray:
    """Upload -> float32 (size, size, 3) in [-1, 1], ready for the classifier."""
    return normalise(frame_pixels(load_rgb(image), size=size))
