"""Synthetic lesion photos with a known outline, lesion enlargement and re-photographing, for tests, benchmarks and
the change flag's evaluation."""

from __future__ import annotations

import cv2
import numpy as np
from PIL import Image, ImageEnhance
from scipy import ndimage

SKIN_RGB = (222, 176, 156)
LESION_RGB = (118, 72, 52)


def synthetic_lesion_photo(
    *, width: int = 300, height: int = 225, seed: int = 0, radius_fraction: float = 0.22
) -> tuple[np.ndarray, np.ndarray]:
    """An RGB photo of an irregular brown lesion on textured, unevenly lit skin, and its true mask."""
    rng = np.random.default_rng(seed)
    rows, cols = np.mgrid[0:height, 0:width].astype(np.float64)
    centre_row, centre_col = height * 0.5, width * 0.52
    angle = np.arctan2(rows - centre_row, cols - centre_col)
    # A wobbly outline, so the shape is not trivially symmetric.
    wobble = 1 + 0.12 * np.sin(3 * angle + rng.uniform(0, 6)) + 0.06 * np.sin(5 * angle + rng.uniform(0, 6))
    radius = radius_fraction * min(height, width) * wobble
    mask = np.hypot(rows - centre_row, cols - centre_col) <= radius
    # Skin texture at several scales carries the alignment; a lighting gradient imitates a real photo.
    texture = ndimage.gaussian_filter(rng.normal(0, 1, (height, width)), 1.2) * 14
    texture += ndimage.gaussian_filter(rng.normal(0, 1, (height, width)), 6) * 40
    lighting = 1 - 0.12 * ((cols / width - 0.3) ** 2 + (rows / height - 0.4) ** 2)
    photo = np.array(SKIN_RGB, dtype=np.float64) * lighting[..., None] + texture[..., None]
    lesion_colour = np.array(LESION_RGB, dtype=np.float64) + ndimage.gaussian_filter(
        rng.normal(0, 1, (height, width)), 3
    )[..., None] * np.array([60, 40, 30])
    edge = ndimage.gaussian_filter(mask.astype(np.float64), 1.0)[..., None]
    photo = edge * lesion_colour + (1 - edge) * photo
    return np.clip(photo, 0, 255).round().astype(np.uint8), mask


def enlarge_lesion(photo: np.ndarray, mask: np.ndarray, *, factor: float) -> np.ndarray:
    """The same photo with the lesion scaled by `factor` about its centre and pasted over the same skin."""
    rows, cols = np.nonzero(mask)
    centre = np.array([rows.mean(), cols.mean()])
    to_source = np.eye(2) / factor
    offset = centre - to_source @ centre
    scaled = np.stack(
        [
            ndimage.affine_transform(photo[..., channel].astype(np.float64), to_source, offset=offset, order=1)
            for channel in range(3)
        ],
        axis=-1,
    )
    scaled_mask = ndimage.affine_transform(mask.astype(np.float64), to_source, offset=offset, order=1) > 0.5
    # A feathered paste a few pixels beyond the enlarged lesion hides the seam in the skin.
    paste = ndimage.binary_dilation(scaled_mask, iterations=max(2, round(0.02 * max(mask.shape))))
    alpha = ndimage.gaussian_filter(paste.astype(np.float64), 1.5)[..., None]
    return np.clip(alpha * scaled + (1 - alpha) * photo, 0, 255).round().astype(np.uint8)


def rephotograph(
    photo: Image.Image, *, angle: float, zoom: float, shift: tuple[float, float], light: float
) -> Image.Image:
    """The same skin photographed again at the same pixel size: turned `angle` degrees about the point `shift[0]`
    pixels right of the centre, then framed `zoom` times closer on the point `shift` pixels off-centre, in `light`
    times the brightness. Where the camera now sees beyond the old photo's edge, the skin is mirrored in. An outline
    (a grey "L" image) goes through the same geometry with light=1, and is empty beyond the edge."""
    width, height = photo.size
    turned = np.vstack([cv2.getRotationMatrix2D((width / 2 + shift[0], height / 2), angle, 1.0), [0, 0, 1]])
    framed = np.vstack([cv2.getRotationMatrix2D((width / 2 + shift[0], height / 2 + shift[1]), 0, zoom), [0, 0, 1]])
    framed[:2, 2] -= shift  # the framed point becomes the new photo's centre
    matrix = (framed @ turned)[:2]
    outline = photo.mode == "L"
    moved = cv2.warpAffine(
        np.asarray(photo),
        matrix,
        (width, height),
        flags=cv2.INTER_LINEAR if outline else cv2.INTER_CUBIC,
        borderMode=cv2.BORDER_CONSTANT if outline else cv2.BORDER_REFLECT_101,
    )
    moved = Image.fromarray(moved)
    return ImageEnhance.Brightness(moved).enhance(light) if light != 1 else moved
