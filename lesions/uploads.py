"""Validation of uploaded photos, done in memory before anything is stored.

Every refusal raises a ValidationError whose message a clinician or patient can act on. An accepted photo is
re-encoded as a JPEG with EXIF orientation applied and all metadata (EXIF, GPS, ICC comments) left behind.
"""

import hashlib
import io
import warnings
from dataclasses import dataclass
from datetime import datetime

import numpy as np
from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils import timezone
from PIL import ExifTags, Image, ImageOps, UnidentifiedImageError

from lesions.validators import is_plausible_moment

try:
    from pillow_heif import register_heif_opener
except ImportError:  # pillow-heif has no wheel for some platforms; HEIC is then refused like any unknown format.
    ACCEPTED_FORMATS = {"JPEG", "PNG", "WEBP", "MPO"}
else:
    register_heif_opener()
    ACCEPTED_FORMATS = {"JPEG", "PNG", "WEBP", "MPO", "HEIF"}

STORED_JPEG_QUALITY = 95
THUMBNAIL_SIDE = 320
ACCEPTED_FORMATS_TEXT = "a JPEG, PNG, WebP or HEIC photo"


@dataclass(frozen=True)
class CleanImage:
    content: bytes
    thumbnail: bytes
    width: int
    height: int
    sha256: str
    taken_at: datetime | None


def clean_uploaded_image(upload) -> CleanImage:
    max_bytes = settings.SKINTRACK_MAX_UPLOAD_BYTES
    if upload.size == 0:
        raise ValidationError("The file is empty. Choose the photo again.", code="empty")
    if upload.size > max_bytes:
        raise ValidationError(
            f"The file is {upload.size / 1_048_576:.1f} MB; photos can be at most {max_bytes / 1_048_576:.0f} MB.",
            code="too_large",
        )
    upload.seek(0)
    data = upload.read()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
            image_format = image.format
            _check_pixel_count(image.size)
            if image_format not in ACCEPTED_FORMATS:
                raise ValidationError(
                    f"This is a {image_format} file; upload {ACCEPTED_FORMATS_TEXT}.", code="unsupported_format"
                )
            image.load()
    except (UnidentifiedImageError, Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
        if isinstance(error, UnidentifiedImageError):
            raise ValidationError(
                f"This file is not an image we can read; upload {ACCEPTED_FORMATS_TEXT}.", code="not_an_image"
            ) from error
        raise _too_many_pixels() from error
    except (OSError, SyntaxError, ValueError) as error:
        raise ValidationError(
            "The image file is damaged or incomplete. Take or export the photo again.", code="corrupt"
        ) from error

    taken_at = _exif_capture_time(image)
    image = _to_rgb(ImageOps.exif_transpose(image))
    min_side = settings.SKINTRACK_MIN_IMAGE_SIDE
    if min(image.size) < min_side:
        raise ValidationError(
            f"The photo is {image.width}x{image.height} pixels; it must be at least {min_side}x{min_side}.",
            code="too_small",
        )
    content = _encode_jpeg(image)
    thumbnail = image.copy()
    thumbnail.thumbnail((THUMBNAIL_SIDE, THUMBNAIL_SIDE))
    return CleanImage(
        content=content,
        thumbnail=_encode_jpeg(thumbnail),
        width=image.width,
        height=image.height,
        sha256=hashlib.sha256(content).hexdigest(),
        taken_at=taken_at,
    )


def _check_pixel_count(size: tuple[int, int]) -> None:
    if size[0] * size[1] > settings.SKINTRACK_MAX_UPLOAD_PIXELS:
        raise _too_many_pixels()


def _too_many_pixels() -> ValidationError:
    megapixels = settings.SKINTRACK_MAX_UPLOAD_PIXELS / 1_000_000
    return ValidationError(
        f"The image has too many pixels; photos can be at most {megapixels:.0f} megapixels.", code="too_many_pixels"
    )


def _to_rgb(image: Image.Image) -> Image.Image:
    if image.mode in ("I;16", "I;16B", "I;16L", "I"):
        # 16-bit greyscale: keep the top 8 bits rather than clipping everything above 255 to white.
        image = Image.fromarray((np.asarray(image, dtype=np.uint32) >> 8).astype(np.uint8), mode="L")
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGB", rgba.size, (255, 255, 255))
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    return image.convert("RGB")


def _encode_jpeg(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=STORED_JPEG_QUALITY)
    return buffer.getvalue()


def _exif_capture_time(image: Image.Image) -> datetime | None:
    exif = image.getexif().get_ifd(ExifTags.IFD.Exif)
    stamp = exif.get(ExifTags.Base.DateTimeOriginal)
    if not isinstance(stamp, str):
        return None
    try:
        taken = datetime.strptime(stamp.strip("\x00 "), "%Y:%m:%d %H:%M:%S")
    except ValueError:
        return None
    taken = timezone.make_aware(taken)
    # A camera with an unset or hostile clock: the upload time stands in.
    return taken if is_plausible_moment(taken) else None
