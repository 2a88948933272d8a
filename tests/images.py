"""Real image bytes made in the tests: a skin-coloured background with a darker, irregular lesion."""

import io

from PIL import Image, ImageDraw


def lesion_photo(size=(200, 150), *, lesion_scale: float = 1.0, mode: str = "RGB") -> Image.Image:
    width, height = size
    image = Image.new("RGB", size, (224, 180, 160))
    draw = ImageDraw.Draw(image)
    rx, ry = width * 0.18 * lesion_scale, height * 0.2 * lesion_scale
    cx, cy = width / 2, height / 2
    draw.ellipse((cx - rx, cy - ry, cx + rx, cy + ry), fill=(110, 70, 50))
    draw.ellipse((cx - rx * 0.4, cy - ry * 0.5, cx + rx * 0.3, cy + ry * 0.2), fill=(70, 40, 30))
    return image.convert(mode) if mode != "RGB" else image


def encode(image: Image.Image, fmt: str = "JPEG", **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def jpeg_bytes(size=(200, 150), **options) -> bytes:
    return encode(lesion_photo(size), "JPEG", **options)
