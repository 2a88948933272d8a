"""sRGB to CIE Lab (D65) in numpy, shared by segmentation and lesion measurements."""

from __future__ import annotations

import numpy as np

_RGB_TO_XYZ = np.array(
    [
        [0.4124564, 0.3575761, 0.1804375],
        [0.2126729, 0.7151522, 0.0721750],
        [0.0193339, 0.1191920, 0.9503041],
    ]
)
_D65_WHITE = np.array([0.95047, 1.0, 1.08883])


def _linear(unit: np.ndarray) -> np.ndarray:
    return np.where(unit <= 0.04045, unit / 12.92, ((unit + 0.055) / 1.055) ** 2.4)


# uint8 photos look their linear values up rather than raising every pixel to a power (the photo gate runs on
# every upload).
_UINT8_LINEAR = _linear(np.arange(256) / 255.0)


def rgb_to_lab(rgb: np.ndarray) -> np.ndarray:
    """Convert an (..., 3) sRGB array (uint8 0..255 or float 0..1) to CIE Lab (L in 0..100)."""
    rgb = np.asarray(rgb)
    linear = _UINT8_LINEAR[rgb] if rgb.dtype == np.uint8 else _linear(rgb.astype(np.float64))
    xyz = linear @ _RGB_TO_XYZ.T / _D65_WHITE
    epsilon, kappa = 216 / 24389, 24389 / 27
    f = np.where(xyz > epsilon, np.cbrt(xyz), (kappa * xyz + 16) / 116)
    lightness = 116 * f[..., 1] - 16
    a = 500 * (f[..., 0] - f[..., 1])
    b = 200 * (f[..., 1] - f[..., 2])
    return np.stack([lightness, a, b], axis=-1)
