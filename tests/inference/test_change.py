"""Lesion measurements, registration of two photos, and the measured change with its "changed" flag."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from inference.analysis import change as change_module
from inference.analysis.change import (
    CANNOT_TELL,
    CHANGE_RULE,
    CHANGED,
    UNCHANGED,
    compare_lesion_images,
    measure_lesion,
    register,
)
from inference.analysis.color import rgb_to_lab
from inference.analysis.learned_segmenter import learned_segmenter
from inference.analysis.segmentation import segment_lesion, segment_lesion_learned
from inference.paths import DEFAULT_DATA_DIR
from inference.training.synthetic import enlarge_lesion, rephotograph, synthetic_lesion_photo

HAM10000_DIR = DEFAULT_DATA_DIR


def _original(index: int = 0) -> Image.Image:
    originals = sorted((HAM10000_DIR / "originals").glob("*.jpg"))
    if len(originals) <= index:
        pytest.skip(f"HAM10000 600x450 originals not found under {HAM10000_DIR.resolve()}")
    return Image.open(originals[index]).convert("RGB")


def _disk(size: int, radius: float, centre: tuple[float, float]) -> np.ndarray:
    rows, cols = np.mgrid[0:size, 0:size]
    return np.hypot(rows - centre[0], cols - centre[1]) <= radius


def _plain_photo(size: int) -> np.ndarray:
    return np.full((size, size, 3), 200, dtype=np.uint8)


# Measurements of one lesion


def test_a_disk_is_round_symmetric_and_as_wide_as_its_diameter():
    mask = _disk(200, 40, (100, 100))
    measured = measure_lesion(_plain_photo(200), mask)
    assert measured.area_pixels == mask.sum()
    assert measured.area_fraction == pytest.approx(mask.sum() / 200**2)
    assert measured.longest_diameter_pixels == pytest.approx(81, abs=1.5)
    assert measured.asymmetry < 0.03
    assert measured.border_irregularity == pytest.approx(1.0, abs=0.1)


def test_a_lopsided_lesion_reads_asymmetric_and_a_ragged_one_irregular():
    rows, cols = np.mgrid[0:200, 0:200]
    teardrop = (
        _disk(200, 40, (100, 90)) | _disk(200, 18, (100, 150)) | ((abs(rows - 100) < 6) & (cols > 100) & (cols < 150))
    )
    angle = np.arctan2(rows - 100, cols - 100)
    star = np.hypot(rows - 100, cols - 100) <= 50 * (1 + 0.35 * np.sin(9 * angle))
    lopsided = measure_lesion(_plain_photo(200), teardrop)
    ragged = measure_lesion(_plain_photo(200), star)
    round_one = measure_lesion(_plain_photo(200), _disk(200, 40, (100, 100)))
    assert lopsided.asymmetry > round_one.asymmetry + 0.1
    assert ragged.border_irregularity > 1.5


def test_border_irregularity_does_not_depend_on_how_close_the_photo_was_taken():
    rows, cols = np.mgrid[0:400, 0:400]
    angle = np.arctan2(rows - 200, cols - 200)
    star = np.hypot(rows - 200, cols - 200) <= 150 * (1 + 0.2 * np.sin(7 * angle))
    small_star = np.asarray(Image.fromarray(star).resize((100, 100), Image.Resampling.BILINEAR))
    close_up = measure_lesion(_plain_photo(400), star).border_irregularity
    wide_shot = measure_lesion(_plain_photo(100), small_star).border_irregularity
    assert wide_shot == pytest.approx(close_up, rel=0.1)


def test_colour_of_a_uniform_lesion_and_its_skin():
    photo = np.zeros((120, 120, 3), dtype=np.uint8)
    photo[:] = (220, 180, 160)
    mask = _disk(120, 25, (60, 60))
    photo[mask] = (120, 70, 50)
    measured = measure_lesion(Image.fromarray(photo), mask)
    expected_lesion = rgb_to_lab(np.array([[[120, 70, 50]]], dtype=np.uint8))[0, 0]
    expected_skin = rgb_to_lab(np.array([[[220, 180, 160]]], dtype=np.uint8))[0, 0]
    assert measured.mean_lab == pytest.approx(tuple(expected_lesion), abs=0.01)
    assert measured.skin_lab == pytest.approx(tuple(expected_skin), abs=0.01)
    assert measured.colour_variegation == pytest.approx(0.0, abs=1e-6)


def test_mask_must_match_the_photo():
    with pytest.raises(ValueError, match="does not match"):
        measure_lesion(_plain_photo(50), np.ones((40, 50), dtype=bool))


# The change between two photos (the required pair of tests, on a synthetic lesion and on a real one)


@pytest.fixture(scope="module")
def synthetic_pair():
    photo, mask = synthetic_lesion_photo(seed=1)
    return photo, enlarge_lesion(photo, mask, factor=1.2)


def test_the_same_photo_twice_reads_no_change(synthetic_pair):
    photo, _ = synthetic_pair
    change = compare_lesion_images(photo, photo.copy())
    assert change.area_ratio == pytest.approx(1.0, abs=0.02)
    assert change.diameter_ratio == pytest.approx(1.0, abs=0.02)
    assert change.colour_change < 0.5
    assert change.changed is False
    assert change.reasons == []
    assert change.registration_quality > 0.95
    assert change.reliable


def test_a_lesion_enlarged_by_20_percent_reads_144_percent_area_and_changed(synthetic_pair):
    photo, enlarged = synthetic_pair
    change = compare_lesion_images(photo, enlarged)
    assert change.area_ratio == pytest.approx(1.44, abs=0.1)
    assert change.diameter_ratio == pytest.approx(1.2, abs=0.06)
    assert change.verdict == CHANGED
    assert change.changed is True
    assert any(reason.startswith("Area grew") for reason in change.reasons)
    # The alignment ran on the unchanged skin, so it did not explain the growth away as a zoom.
    assert change.registration.transform.scale == pytest.approx(1.0, abs=0.02)
    assert change.registration_quality > 0.9


def test_a_real_lesion_enlarged_by_20_percent_reads_changed_and_the_photo_twice_does_not():
    photo = np.asarray(_original(0).resize((300, 225), Image.Resampling.BOX))
    mask = segment_lesion(photo)
    enlarged = enlarge_lesion(photo, mask, factor=1.2)
    grown = compare_lesion_images(photo, enlarged, before_mask=mask)
    same = compare_lesion_images(photo, photo, before_mask=mask, after_mask=mask)
    assert grown.area_ratio == pytest.approx(1.44, abs=0.1)
    assert grown.changed is True
    assert same.area_ratio == pytest.approx(1.0, abs=0.02)
    assert same.changed is False


def test_a_photo_taken_closer_is_not_read_as_growth(synthetic_pair):
    photo, _ = synthetic_pair
    height, width = photo.shape[:2]
    # The later photo frames 80% of the earlier one's field, at the same pixel size: a 1.25x zoom.
    closer = Image.fromarray(photo).crop((20, 10, 20 + 0.8 * width, 10 + 0.8 * height))
    closer = closer.resize((width, height), Image.Resampling.BICUBIC)
    change = compare_lesion_images(photo, closer)
    assert change.registration.transform.scale == pytest.approx(0.8, abs=0.02)
    assert change.area_ratio == pytest.approx(1.0, abs=0.1)
    assert change.changed is False


def test_a_lesion_found_in_only_one_photo_or_in_neither_cannot_be_told():
    photo, mask = synthetic_lesion_photo(seed=4)
    nothing = np.zeros_like(mask)
    vanished = compare_lesion_images(photo, photo, before_mask=mask, after_mask=nothing)
    neither = compare_lesion_images(photo, photo, before_mask=nothing, after_mask=nothing)
    assert vanished.verdict == CANNOT_TELL
    assert vanished.cannot_tell_reasons[0] == "No lesion was found in the later photo."
    assert neither.verdict == CANNOT_TELL
    assert len(neither.cannot_tell_reasons) == 2
    assert vanished.changed is False
    assert json.loads(json.dumps(vanished.as_dict()))["area_ratio"] is None


def _annotation(index: int, size: tuple[int, int]) -> Image.Image:
    """The HAM10000 annotators' outline of original `index`, as a grey image of `size`."""
    image_id = sorted((HAM10000_DIR / "originals").glob("*.jpg"))[index].stem
    mask = Image.open(HAM10000_DIR / "masks" / f"{image_id}_segmentation.png").convert("L")
    return mask.resize(size, Image.Resampling.BILINEAR)


def test_a_real_lesion_rephotographed_reads_unchanged_and_grown_by_20_percent_reads_changed():
    # The learned segmenter's outlines: the classical one's margin reads this growth as x1.28-1.31.
    if learned_segmenter() is None:
        pytest.skip("the learned segmenter is not shipped")
    original = _original(0)
    before = np.asarray(original.resize((300, 225), Image.Resampling.BOX))
    moved = {"angle": 14.0, "zoom": 1.15, "shift": (12, -8)}
    again = np.asarray(rephotograph(original, **moved, light=1.08).resize((300, 225), Image.Resampling.BOX))
    # The annotated lesion, moved with the photo, grows x1.2 in diameter over skin that stays put.
    outline = rephotograph(_annotation(0, original.size), **moved, light=1.0)
    outline = np.asarray(outline.resize((300, 225), Image.Resampling.BILINEAR)) >= 128
    grown = enlarge_lesion(again, outline, factor=1.2)

    before_mask = segment_lesion_learned(before)
    unchanged = compare_lesion_images(before, again, before_mask=before_mask, after_mask=segment_lesion_learned(again))
    changed = compare_lesion_images(before, grown, before_mask=before_mask, after_mask=segment_lesion_learned(grown))

    assert unchanged.verdict == UNCHANGED, unchanged.reasons + unchanged.cannot_tell_reasons
    assert unchanged.registration.transform.scale == pytest.approx(1 / 1.15, abs=0.03)
    assert unchanged.area_ratio == pytest.approx(1.0, abs=0.1)
    assert changed.verdict == CHANGED, changed.cannot_tell_reasons
    assert changed.area_ratio == pytest.approx(1.44, abs=0.1)
    assert any(reason.startswith("Area grew") for reason in changed.reasons)


def test_a_phone_photo_against_a_dermoscopic_one_cannot_be_told(synthetic_pair):
    photo, enlarged = synthetic_pair
    change = compare_lesion_images(photo, enlarged, modalities=("dermoscopic", "clinical"))
    assert change.verdict == CANNOT_TELL
    assert change.changed is False
    assert change.reasons == []
    assert "Different kinds of photo (dermoscopic earlier, clinical later)" in change.cannot_tell_reasons[0]
    same_kind = compare_lesion_images(photo, enlarged, modalities=("clinical", "clinical"))
    assert same_kind.verdict == CHANGED


def test_a_lesion_cut_off_by_the_photos_edge_cannot_be_told():
    photo, mask = synthetic_lesion_photo(seed=1)
    columns = np.nonzero(mask.any(axis=0))[0]
    # The later photo's frame ends in the middle of the lesion (its true outline: the rule, not the segmenter).
    width = (columns[0] + columns[-1]) // 2
    change = compare_lesion_images(photo, photo[:, :width], before_mask=mask, after_mask=mask[:, :width])
    assert change.verdict == CANNOT_TELL
    assert any("cut off by the later photo's edge" in reason for reason in change.cannot_tell_reasons)
    assert change_module.cut_off_share(mask) == 0.0


def _enlarged_outline(mask: np.ndarray, *, factor: float) -> np.ndarray:
    """The true outline of `enlarge_lesion(photo, mask, factor=factor)`: these tests are about the rule, not a
    segmenter."""
    drawn = np.repeat(mask[..., None].astype(np.uint8) * 255, 3, axis=2)
    return enlarge_lesion(drawn, mask, factor=factor)[..., 0] >= 128


def test_a_lesion_running_off_the_later_photo_that_already_shows_more_than_the_limit_reads_grown_at_least():
    photo, mask = synthetic_lesion_photo(seed=1)
    grown = enlarge_lesion(photo, mask, factor=1.4)  # x1.96 in area
    grown_mask = _enlarged_outline(mask, factor=1.4)
    columns = np.nonzero(grown_mask.any(axis=0))[0]
    # The later frame loses a tenth of the grown lesion's width: what stays in view is still far above x1.25.
    width = columns[-1] - (columns[-1] - columns[0]) // 10
    change = compare_lesion_images(photo, grown[:, :width], before_mask=mask, after_mask=grown_mask[:, :width])
    assert change.verdict == CHANGED, change.cannot_tell_reasons
    assert change.area_ratio_bound == "lower"
    assert change.area_ratio > 1.6
    assert change.reasons[0].startswith(f"Area grew: at least x{change.area_ratio:.2f}")
    # The lesion as it was, cut off the same way: the part in view reads smaller, and that says nothing.
    columns = np.nonzero(mask.any(axis=0))[0]
    width = columns[-1] - (columns[-1] - columns[0]) // 10
    same = compare_lesion_images(photo, photo[:, :width], before_mask=mask, after_mask=mask[:, :width])
    assert same.verdict == CANNOT_TELL
    assert same.area_ratio_bound == "lower"


def test_a_lesion_running_off_the_earlier_photo_reads_shrunk_only_when_the_later_whole_one_is_smaller_still():
    photo, mask = synthetic_lesion_photo(seed=1)
    # The same skin with a lesion of 0.6 times the radius: x0.36 in area.
    shrunk, shrunk_mask = synthetic_lesion_photo(seed=1, radius_fraction=0.22 * 0.6)
    columns = np.nonzero(mask.any(axis=0))[0]
    width = columns[-1] - (columns[-1] - columns[0]) // 8
    earlier, earlier_mask = photo[:, :width], mask[:, :width]
    change = compare_lesion_images(earlier, shrunk, before_mask=earlier_mask, after_mask=shrunk_mask)
    assert change.verdict == CHANGED, change.cannot_tell_reasons
    assert change.area_ratio_bound == "upper"
    assert change.reasons[0].startswith("Area shrank: to at most x")
    same = compare_lesion_images(earlier, photo, before_mask=earlier_mask, after_mask=mask)
    assert same.verdict == CANNOT_TELL
    assert "cut off by the earlier photo's edge" in same.cannot_tell_reasons[0]


def test_a_lesion_cut_off_in_both_photos_cannot_be_told_even_when_it_reads_larger():
    photo, mask = synthetic_lesion_photo(seed=1)
    grown = enlarge_lesion(photo, mask, factor=1.4)
    grown_mask = _enlarged_outline(mask, factor=1.4)
    columns = np.nonzero(mask.any(axis=0))[0]
    width = columns[-1] - (columns[-1] - columns[0]) // 8
    change = compare_lesion_images(
        photo[:, :width], grown[:, :width], before_mask=mask[:, :width], after_mask=grown_mask[:, :width]
    )
    assert change.verdict == CANNOT_TELL
    assert change.area_ratio_bound is None
    assert len(change.cannot_tell_reasons) == 2


# Registration


def test_a_rotated_and_shifted_copy_of_a_real_photo_registers_back():
    original = _original(0)
    angle, centre, shift = 12.0, (310.0, 220.0), (15.0, -10.0)
    rotated = original.rotate(angle, resample=Image.Resampling.BICUBIC, center=centre, translate=shift)
    # Both photos are the same crop of the frame, so the rotated one has no empty corners.
    box = (slice(60, 390), slice(80, 520))
    reference, moving = np.asarray(original)[box], np.asarray(rotated)[box]
    registration = register(reference, moving)

    # PIL rotates the frame counter-clockwise about `centre`, then shifts it; undo that in crop coordinates.
    radians = np.deg2rad(angle)
    undo_rotation = np.array([[np.cos(radians), -np.sin(radians)], [np.sin(radians), np.cos(radians)]])
    crop_centre = np.array([centre[0] - 80, centre[1] - 60])
    expected_translation = crop_centre - undo_rotation @ (crop_centre + np.array(shift))
    transform = registration.transform
    assert transform.rotation_degrees == pytest.approx(angle, abs=0.5)
    assert transform.scale == pytest.approx(1.0, abs=0.01)
    assert (transform.translation_x, transform.translation_y) == pytest.approx(tuple(expected_translation), abs=1.5)
    assert registration.quality > 0.8
    assert registration.quality_text.startswith("Good alignment")
    overlap = registration.overlap
    difference = np.abs(registration.aligned.astype(int) - reference.astype(int))[overlap]
    assert registration.aligned.shape == reference.shape
    assert overlap.mean() > 0.8
    assert np.median(difference) < 6


def test_a_full_size_original_registers_onto_its_small_copy_at_one_third_scale():
    original = _original(1)
    small = original.resize((200, 150), Image.Resampling.BOX)
    change = compare_lesion_images(small, original)
    assert change.registration.transform.scale == pytest.approx(1 / 3, abs=0.01)
    assert change.registration.transform.rotation_degrees == pytest.approx(0.0, abs=0.5)
    assert change.area_ratio == pytest.approx(1.0, abs=0.1)


def test_unrelated_photos_align_poorly_and_say_so():
    first, _ = synthetic_lesion_photo(seed=2)
    second, _ = synthetic_lesion_photo(seed=9)
    registration = register(first, second)
    assert registration.quality < 0.5
    assert registration.quality_text.startswith("Poor alignment")


# What the Django side stores


def test_results_are_json_for_a_jsonfield(synthetic_pair):
    photo, enlarged = synthetic_pair
    change = compare_lesion_images(photo, enlarged)
    stored = json.loads(json.dumps(change.as_dict()))
    assert stored["changed"] is True
    assert stored["rule"] == CHANGE_RULE
    assert stored["area_ratio"] == pytest.approx(change.area_ratio, abs=1e-4)
    assert stored["after"]["area_pixels"] == change.after.area_pixels
    assert len(stored["registration"]["transform"]["matrix_moving_to_reference"]) == 3
    assert stored["registration"]["quality_text"] == change.registration.quality_text
    assert json.loads(json.dumps(change.before.as_dict()))["mean_lab"] == pytest.approx(
        list(change.before.mean_lab), abs=1e-4
    )


def test_unrelated_photos_cannot_be_told_and_say_why():
    first, _ = synthetic_lesion_photo(seed=2)
    second, _ = synthetic_lesion_photo(seed=9)
    change = compare_lesion_images(first, second)
    assert change.verdict == CANNOT_TELL
    assert change.reasons == []
    assert any(reason.startswith("Poor alignment") for reason in change.cannot_tell_reasons)
    assert json.loads(json.dumps(change.as_dict()))["verdict_text"] == "Cannot tell"


def test_the_rule_text_names_every_limit():
    for phrase in ("area", "diameter", "asymmetry", "border", "colour", "Delta E", "cannot tell", "not a diagnosis"):
        assert phrase in CHANGE_RULE
