"""The out-of-distribution set the photo gate is fitted and measured on: photos that are not for the classifier.

Four kinds, each split into a training half (fitting) and an evaluation half (the model card's figures) with no
source shared between the halves:
- `package`: the sample photos bundled with scikit-image (people, animals, objects, scenes, microscopy, text),
  as several crops each; the halves take alternate source images;
- `document`: documents rendered here (text, headings, tables, forms) on paper, some photographed at an angle;
- `screenshot`: screens rendered here (the platform's own kind of pages: a title bar, a menu, cards, tables,
  buttons, charts, some showing a lesion photo as a thumbnail);
- `blurred`, `overexposed`, `underexposed`, `cut_off`: HAM10000 photos degraded on purpose, from the training
  split for the training half and from the validation split for the evaluation half.
Everything is seeded, so the set is the same on every run; nothing is downloaded.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont, ImageOps

from inference.paths import SPLIT_CSV

HALVES = ("train", "eval")
PER_KIND = 100  # photos of each kind in each half
PACKAGE_VIEWS = 8  # crops of each bundled sample photo
BLUR_RADIUS = 4.0  # Gaussian blur on the 200x150 photo: 12 px on the 600x450 original
OVEREXPOSURE_GAIN = 2.2
UNDEREXPOSURE_GAIN = 0.25
# A photo that leaves the lesion cut off: a window of this fraction of the photo, the lesion's centre on its edge.
CUT_OFF_WINDOW = 0.5
# scikit-image's bundled sample photos that load without a download, and stand for something other than skin.
PACKAGE_IMAGES = (
    "astronaut", "brick", "camera", "cat", "cell", "chelsea", "clock", "coffee", "coins", "colorwheel", "grass",
    "gravel", "horse", "hubble_deep_field", "immunohistochemistry", "logo", "microaneurysms", "moon", "page",
    "retina", "rocket", "text",
)  # fmt: skip
WORDS = [
    "patient",
    "lesion",
    "follow-up",
    "clinic",
    "report",
    "photo",
    "result",
    "summary",
    "date",
    "name",
    "record",
    "number",
    "appointment",
    "dermatology",
    "invoice",
    "total",
    "amount",
    "the",
    "of",
    "and",
    "to",
    "in",
    "for",
    "with",
    "on",
    "by",
    "letter",
    "referral",
    "history",
    "medication",
    "allergy",
    "signature",
    "SkinTrack",
    "dashboard",
    "attention",
    "changed",
    "malignancy",
    "upload",
    "settings",
    "profile",
    "logout",
    "search",
    "export",
    "share",
]


@dataclass(frozen=True)
class OodPhoto:
    kind: str
    source: str
    image: Image.Image


def ham_rows(*, split: str, split_csv: Path = SPLIT_CSV) -> list[dict]:
    with open(split_csv, newline="") as handle:
        return [row for row in csv.DictReader(handle) if row["split"] == split]


def ood_set(*, half: str, data_dir: Path) -> Iterator[OodPhoto]:
    """Every photo of one half, kind by kind."""
    index = HALVES.index(half)
    rng = np.random.default_rng([19, index])
    ham_split = ("train", "validation")[index]
    ham_ids = [row["image_id"] for row in ham_rows(split=ham_split)]
    yield from package_photos(half=half, rng=rng)
    for number in range(PER_KIND):
        yield OodPhoto("document", f"document-{half}-{number}", as_upload(render_document(rng), rng))
    for number in range(PER_KIND):
        thumbnail = None
        if rng.random() < 0.5:
            thumbnail = Image.open(data_dir / "images" / f"{rng.choice(ham_ids)}.jpg").convert("RGB")
        yield OodPhoto("screenshot", f"screenshot-{half}-{number}", as_upload(render_screenshot(rng, thumbnail), rng))
    chosen = rng.choice(len(ham_ids), size=PER_KIND * 4, replace=False)
    for position, kind in enumerate(("blurred", "overexposed", "underexposed", "cut_off")):
        for image_id in (ham_ids[i] for i in chosen[position * PER_KIND : (position + 1) * PER_KIND]):
            photo = Image.open(data_dir / "images" / f"{image_id}.jpg").convert("RGB")
            mask = Image.open(data_dir / "masks" / f"{image_id}_segmentation.png").convert("L")
            yield OodPhoto(kind, image_id, degrade(photo, mask, kind=kind, rng=rng))


def package_photos(*, half: str, rng: np.random.Generator) -> Iterator[OodPhoto]:
    from skimage import data  # training-time only: the gate itself never needs scikit-image

    for name in PACKAGE_IMAGES[HALVES.index(half) :: 2]:
        pixels = getattr(data, name)()
        image = Image.fromarray(pixels)
        if image.mode == "RGBA":
            image = Image.alpha_composite(Image.new("RGBA", image.size, "white"), image)
        image = image.convert("RGB")
        for view in range(PACKAGE_VIEWS):
            yield OodPhoto("package", f"{name}-{view}", as_upload(image if view == 0 else random_crop(image, rng), rng))


def random_crop(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    width, height = image.size
    fraction = rng.uniform(0.4, 0.9)
    crop_w, crop_h = round(width * fraction), round(height * fraction)
    left, top = int(rng.integers(0, width - crop_w + 1)), int(rng.integers(0, height - crop_h + 1))
    return image.crop((left, top, left + crop_w, top + crop_h))


def as_upload(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    """The picture as a person would upload it: at a usual size, saved as JPEG or PNG."""
    long_side = int(rng.choice([200, 400, 800, 1200]))
    image = image.copy()
    image.thumbnail((long_side, long_side), Image.Resampling.LANCZOS)
    buffer = io.BytesIO()
    if rng.random() < 0.6:
        image.save(buffer, format="JPEG", quality=int(rng.integers(70, 96)))
    else:
        image.save(buffer, format="PNG")
    return Image.open(io.BytesIO(buffer.getvalue())).convert("RGB")


def font(size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.load_default(size=size)


def sentence(rng: np.random.Generator, words: int) -> str:
    return " ".join(rng.choice(WORDS, size=words))


def render_document(rng: np.random.Generator) -> Image.Image:
    width, height = 850, 1100
    paper = tuple(int(value) for value in rng.integers(232, 256, size=3))
    page = Image.new("RGB", (width, height), paper)
    draw = ImageDraw.Draw(page)
    ink = tuple(int(value) for value in rng.integers(0, 70, size=3))
    y = 60
    draw.text((60, y), sentence(rng, 4).title(), fill=ink, font=font(int(rng.integers(28, 44))))
    y += 70
    while y < height - 80:
        block = rng.random()
        if block < 0.6:
            size = int(rng.integers(14, 22))
            for _ in range(int(rng.integers(3, 9))):
                draw.text((60, y), sentence(rng, int(rng.integers(6, 12))), fill=ink, font=font(size))
                y += size + 8
        elif block < 0.85:
            columns, rows, cell_h = int(rng.integers(3, 6)), int(rng.integers(3, 8)), 28
            cell_w = (width - 120) // columns
            for row in range(rows):
                for column in range(columns):
                    box = (60 + column * cell_w, y + row * cell_h, 60 + (column + 1) * cell_w, y + (row + 1) * cell_h)
                    draw.rectangle(box, outline=ink)
                    draw.text((box[0] + 6, box[1] + 6), sentence(rng, 1), fill=ink, font=font(14))
            y += rows * cell_h
        else:
            draw.line((60, y + 30, 400, y + 30), fill=ink, width=1)
            draw.text((60, y + 36), "Signature", fill=ink, font=font(14))
            y += 50
        y += 24
    if rng.random() < 0.4:  # photographed rather than scanned: tilted on a desk, softer and lit unevenly
        desk = tuple(int(value) for value in rng.integers(60, 180, size=3))
        page = page.rotate(rng.uniform(-12, 12), expand=True, fillcolor=desk, resample=Image.Resampling.BICUBIC)
        page = page.filter(ImageFilter.GaussianBlur(rng.uniform(0.5, 1.5)))
        shade = np.linspace(rng.uniform(0.75, 1.0), 1.0, page.width)[None, :, None]
        page = Image.fromarray((np.asarray(page) * shade).astype(np.uint8))
    return page


def render_screenshot(rng: np.random.Generator, thumbnail: Image.Image | None) -> Image.Image:
    width, height = int(rng.choice([1280, 1440, 1920])), int(rng.choice([800, 900, 1080]))
    dark_theme = rng.random() < 0.3
    background = (24, 26, 32) if dark_theme else tuple(int(value) for value in rng.integers(238, 256, size=3))
    text = (225, 225, 230) if dark_theme else (33, 37, 41)
    accent = tuple(int(value) for value in rng.integers(0, 256, size=3))
    screen = Image.new("RGB", (width, height), background)
    draw = ImageDraw.Draw(screen)
    draw.rectangle((0, 0, width, 56), fill=accent)
    draw.text((24, 16), "SkinTrack", fill=(255, 255, 255), font=font(24))
    for position, item in enumerate(rng.choice(WORDS, size=4)):
        draw.text((width - 520 + position * 120, 20), str(item).title(), fill=(255, 255, 255), font=font(16))
    sidebar = 0
    if rng.random() < 0.6:
        sidebar = 220
        draw.rectangle((0, 56, sidebar, height), fill=tuple(max(0, value - 12) for value in background))
        for row in range(10):
            draw.text((20, 80 + row * 36), str(rng.choice(WORDS)).title(), fill=text, font=font(16))
    x, y = sidebar + 32, 88
    draw.text((x, y), sentence(rng, 3).title(), fill=text, font=font(30))
    y += 60
    card_w = (width - x - 32 - 3 * 24) // 4
    for card in range(4):
        left = x + card * (card_w + 24)
        draw.rounded_rectangle((left, y, left + card_w, y + 110), radius=8, outline=(200, 200, 205), fill=background)
        draw.text((left + 16, y + 16), str(rng.choice(WORDS)).title(), fill=text, font=font(14))
        draw.text((left + 16, y + 48), f"{int(rng.integers(0, 100))}%", fill=accent, font=font(32))
    y += 140
    if thumbnail is not None:
        photo = thumbnail.copy()
        photo.thumbnail((int(rng.integers(160, 400)), 300))
        screen.paste(photo, (x, y))
        x_text = x + photo.width + 24
    else:
        x_text = x
    for row in range(int(rng.integers(6, 14))):
        row_y = y + row * 34
        if row_y > height - 60:
            break
        draw.line((x_text, row_y + 30, width - 32, row_y + 30), fill=(210, 210, 215))
        draw.text((x_text + 8, row_y + 6), sentence(rng, int(rng.integers(3, 8))), fill=text, font=font(15))
    if rng.random() < 0.5:  # a bar chart
        base = height - 40
        for bar in range(12):
            bar_h = int(rng.integers(20, 200))
            draw.rectangle((x + bar * 40, base - bar_h, x + bar * 40 + 28, base), fill=accent)
    button = (width - 200, height - 70, width - 40, height - 30)
    draw.rounded_rectangle(button, radius=6, fill=accent)
    draw.text((button[0] + 20, button[1] + 10), "Upload photo", fill=(255, 255, 255), font=font(16))
    return screen


def degrade(photo: Image.Image, mask: Image.Image, *, kind: str, rng: np.random.Generator) -> Image.Image:
    if kind == "blurred":
        return photo.filter(ImageFilter.GaussianBlur(BLUR_RADIUS))
    if kind in ("overexposed", "underexposed"):
        gain = OVEREXPOSURE_GAIN if kind == "overexposed" else UNDEREXPOSURE_GAIN
        return Image.fromarray(np.clip(np.asarray(photo, dtype=np.float32) * gain, 0, 255).astype(np.uint8))
    if kind == "cut_off":
        return cut_off(photo, mask, rng)
    raise ValueError(f"unknown degradation {kind!r}")


def cut_off(photo: Image.Image, mask: Image.Image, rng: np.random.Generator) -> Image.Image:
    """A window of the photo with the lesion's centre on one of its edges, so that half the lesion is outside,
    enlarged back to the photo's size (as a closer, badly aimed shot would be)."""
    rows, cols = np.nonzero(np.asarray(mask) >= 128)
    width, height = photo.size
    centre_x, centre_y = (cols.mean(), rows.mean()) if len(rows) else (width / 2, height / 2)
    window_w, window_h = round(width * CUT_OFF_WINDOW), round(height * CUT_OFF_WINDOW)
    side = rng.choice(["left", "right", "top", "bottom"])
    left = {"left": centre_x, "right": centre_x - window_w}.get(side, centre_x - window_w / 2)
    top = {"top": centre_y, "bottom": centre_y - window_h}.get(side, centre_y - window_h / 2)
    # Kept inside the photo: no made-up pixels (the lesion's centre then lies near, if not on, the edge).
    left = int(np.clip(round(left), 0, width - window_w))
    top = int(np.clip(round(top), 0, height - window_h))
    window = photo.crop((left, top, left + window_w, top + window_h))
    return ImageOps.fit(window, photo.size, Image.Resampling.BICUBIC)
