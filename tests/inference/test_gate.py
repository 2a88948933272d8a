"""The photo gate on pictures drawn here (not by the out-of-distribution set's generator) and on HAM10000 photos."""

import csv

import pytest
from PIL import Image, ImageFilter

from inference.analysis.gate import RETAKE_PROMPT, check_photo
from inference.paths import DEFAULT_DATA_DIR, SPLIT_CSV
from tests.images import dashboard_screenshot, letter

HAM10000_DIR = DEFAULT_DATA_DIR


def validation_photos(count: int) -> list[Image.Image]:
    if not (HAM10000_DIR / "images").is_dir():
        pytest.skip(f"HAM10000 images not found under {HAM10000_DIR.resolve()}")
    with open(SPLIT_CSV, newline="") as handle:
        ids = [row["image_id"] for row in csv.DictReader(handle) if row["split"] == "validation"][:count]
    return [Image.open(HAM10000_DIR / "images" / f"{image_id}.jpg").convert("RGB") for image_id in ids]


def test_a_screenshot_is_gated_as_not_a_dermoscopic_photo():
    verdict = check_photo(dashboard_screenshot())
    assert not verdict.passed
    assert "not_dermoscopic" in [reason.code for reason in verdict.reasons]
    assert verdict.prompt == RETAKE_PROMPT


def test_a_document_is_gated_as_not_a_dermoscopic_photo():
    verdict = check_photo(letter())
    assert not verdict.passed
    assert "not_dermoscopic" in [reason.code for reason in verdict.reasons]


def test_a_blurred_photo_is_gated_as_blurred_and_the_sharp_one_passes():
    [photo] = validation_photos(1)
    assert check_photo(photo).passed
    verdict = check_photo(photo.filter(ImageFilter.GaussianBlur(5)))
    assert [reason.code for reason in verdict.reasons] == ["blurred"]
    assert "blurred" in verdict.reasons[0].message


def test_ham10000_validation_photos_pass():
    verdicts = [check_photo(photo) for photo in validation_photos(10)]
    assert [verdict.passed for verdict in verdicts] == [True] * 10
    assert all(verdict.reasons == () and verdict.prompt == "" for verdict in verdicts)


def test_a_plain_camera_photo_is_gated_because_the_model_only_saw_dermoscopy():
    [photo] = validation_photos(1)
    verdict = check_photo(photo, modality="clinical")
    assert [reason.code for reason in verdict.reasons] == ["clinical_photo"]
    assert "dermoscopic photos only" in verdict.reasons[0].message


def test_an_overexposed_photo_is_gated():
    [photo] = validation_photos(1)
    washed_out = photo.point(lambda value: min(255, value * 3))
    assert "overexposed" in [reason.code for reason in check_photo(washed_out).reasons]


def test_the_verdict_is_stored_as_plain_json():
    verdict = check_photo(letter()).as_dict()
    assert verdict["passed"] is False
    assert all(set(reason) == {"code", "message"} for reason in verdict["reasons"])
    assert isinstance(verdict["features"]["sharpness"], float)
