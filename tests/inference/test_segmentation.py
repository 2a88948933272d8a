"""Lesion segmentation: shape of the answer for any input, the classical segmenter's accuracy on a known synthetic
lesion, both segmenters' on real HAM10000 validation images, which one serves, and the evaluation that writes the
model card's figures."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from inference.analysis import change_record
from inference.analysis.color import rgb_to_lab
from inference.analysis.learned_segmenter import content_box, learned_segmenter
from inference.analysis.segmentation import segment_lesion, segment_lesion_classical, segment_lesion_learned
from inference.paths import DEFAULT_DATA_DIR, LEARNED_SEGMENTER_PATH, SEGMENTATION_METRICS_PATH
from inference.training import segmentation_eval
from inference.training.synthetic import synthetic_lesion_photo
from tests.images import REAL_PHOTO

HAM10000_DIR = DEFAULT_DATA_DIR


def _jaccard(first: np.ndarray, second: np.ndarray) -> float:
    return segmentation_eval.overlap_scores(first, second)[0]


def _validation_ids(count: int) -> list[str]:
    if not (HAM10000_DIR / "masks").is_dir():
        pytest.skip(f"HAM10000 images and masks not found under {HAM10000_DIR.resolve()}")
    return segmentation_eval.validation_image_ids()[:count]


@pytest.mark.parametrize(("width", "height"), [(200, 150), (600, 450), (150, 200), (333, 197)])
def test_the_classical_segmenter_finds_a_synthetic_lesion_at_any_size(width, height):
    photo, truth = synthetic_lesion_photo(width=width, height=height, seed=3)
    mask = segment_lesion_classical(Image.fromarray(photo))
    assert mask.dtype == bool
    assert mask.shape == (height, width)
    assert _jaccard(mask, truth) > 0.75


def test_accepts_arrays_and_pil_images_alike():
    photo, _ = synthetic_lesion_photo(seed=5)
    from_array = segment_lesion(photo)
    from_image = segment_lesion(Image.fromarray(photo))
    from_floats = segment_lesion(photo.astype(np.float64) / 255.0)
    assert np.array_equal(from_array, from_image)
    assert _jaccard(from_array, from_floats) > 0.98


def test_hairs_across_the_lesion_do_not_change_the_outline():
    photo, truth = synthetic_lesion_photo(seed=7)
    hairy = photo.copy()
    for row in range(20, photo.shape[0], 37):
        hairy[row : row + 2, :] = (40, 30, 25)  # dark hairs two pixels thick across the whole photo
    assert _jaccard(segment_lesion_classical(hairy), segment_lesion_classical(photo)) > 0.9
    assert _jaccard(segment_lesion_classical(hairy), truth) > 0.75


def test_dark_dermoscope_corners_are_not_lesion():
    photo, truth = synthetic_lesion_photo(seed=11)
    height, width = truth.shape
    rows, cols = np.mgrid[0:height, 0:width]
    outside_field = np.hypot((rows - height / 2) / (height / 2), (cols - width / 2) / (width / 2)) > 1.15
    photo[outside_field] = (8, 6, 6)
    mask = segment_lesion_classical(photo)
    assert not (mask & outside_field).any()
    assert _jaccard(mask, truth) > 0.75


def test_matches_the_annotators_on_real_validation_images():
    image_ids = _validation_ids(12)
    metrics = segmentation_eval.evaluate(image_ids=image_ids, data_dir=HAM10000_DIR)
    # The full validation split measures about 0.80 mean Jaccard; a dozen images vary, so the bar is lower.
    assert metrics["mean_jaccard"] > 0.65
    assert metrics["images"] == 12


def test_a_real_600x450_original_gives_the_same_outline_as_its_200x150_copy():
    if not (HAM10000_DIR / "originals").is_dir():
        pytest.skip(f"HAM10000 originals not found under {HAM10000_DIR.resolve()}")
    original_path = sorted((HAM10000_DIR / "originals").glob("*.jpg"))[0]
    original = Image.open(original_path).convert("RGB")
    small = Image.open(HAM10000_DIR / "images" / original_path.name).convert("RGB")
    large_mask = segment_lesion(original)
    small_mask = segment_lesion(small)
    assert large_mask.shape == (450, 600)
    downscaled = np.asarray(Image.fromarray(large_mask).resize((200, 150), Image.Resampling.NEAREST))
    assert _jaccard(downscaled, small_mask) > 0.85


def test_the_learned_segmenter_serves_where_shipped_unless_the_classical_one_is_asked_for(monkeypatch):
    if learned_segmenter() is None:
        pytest.skip(f"no learned segmenter shipped at {LEARNED_SEGMENTER_PATH}")
    photo = np.asarray(Image.open(REAL_PHOTO).convert("RGB"))
    monkeypatch.delenv("SKINTRACK_SEGMENTER", raising=False)
    assert np.array_equal(segment_lesion(photo), segment_lesion_learned(photo))
    assert not np.array_equal(segment_lesion(photo), segment_lesion_classical(photo))
    monkeypatch.setenv("SKINTRACK_SEGMENTER", "classical")
    assert np.array_equal(segment_lesion(photo), segment_lesion_classical(photo))
    monkeypatch.delenv("SKINTRACK_SEGMENTER")
    monkeypatch.setattr("inference.analysis.learned_segmenter.learned_segmenter", lambda: None)
    assert np.array_equal(segment_lesion(photo), segment_lesion_classical(photo))


def test_where_the_learned_segmenter_finds_no_lesion_the_classical_one_outlines_it(monkeypatch):
    monkeypatch.delenv("SKINTRACK_SEGMENTER", raising=False)
    photo, truth = synthetic_lesion_photo(seed=1)
    monkeypatch.setattr("inference.analysis.segmentation.learned_segmenter_serves", lambda: True)
    monkeypatch.setattr(
        "inference.analysis.segmentation.segment_lesion_learned", lambda rgb: np.zeros(rgb.shape[:2], dtype=bool)
    )
    assert np.array_equal(segment_lesion(photo), segment_lesion_classical(photo))
    assert _jaccard(segment_lesion(photo), truth) > 0.75


def test_the_shipped_learned_segmenter_outlines_validation_lesions_closer_than_the_classical_one():
    if learned_segmenter() is None:
        pytest.skip(f"no learned segmenter shipped at {LEARNED_SEGMENTER_PATH}")
    image_ids = _validation_ids(40)
    learned = segmentation_eval.evaluate(image_ids=image_ids, data_dir=HAM10000_DIR, segment=segment_lesion_learned)
    classical = segmentation_eval.evaluate(image_ids=image_ids, data_dir=HAM10000_DIR, segment=segment_lesion_classical)
    assert learned["mean_jaccard"] > classical["mean_jaccard"]
    assert learned["share_below_0_65"] <= classical["share_below_0_65"]


def test_evaluation_writes_the_model_card_figures_for_each_segmenter(tmp_path, monkeypatch):
    _validation_ids(3)
    output = tmp_path / "metrics.json"
    monkeypatch.setattr("sys.argv", ["segmentation_eval", "--limit", "3", "--output", str(output)])
    segmentation_eval.main()
    metrics = json.loads(output.read_text())
    assert set(metrics["segmenters"]) == set(segmentation_eval.segmenters())
    assert metrics["serving_segmenter"] == segmentation_eval.serving_segmenter_name()
    assert metrics["mean_jaccard"] == metrics["segmenters"][metrics["serving_segmenter"]]["mean_jaccard"]
    assert metrics["images"] == 3
    assert metrics["split"].startswith("validation")
    for figure in ("mean_jaccard", "mean_dice", "thresholded_jaccard"):
        assert 0.0 <= metrics[figure] <= 1.0
    assert metrics["thresholded_jaccard"] <= metrics["mean_jaccard"] <= metrics["mean_dice"]


@pytest.mark.parametrize("registration", sorted(segmentation_eval.REGISTRATIONS))
def test_lesion_pair_evaluation_counts_false_alarms_and_caught_growth(registration):
    # A photo paired with itself did not change; its enlarged copies grew by x1.44 and x1.21 in area.
    image_id = _validation_ids(1)[0]
    figures = segmentation_eval.evaluate_lesion_pairs(
        pairs=[(image_id, image_id)], data_dir=HAM10000_DIR, align=segmentation_eval.REGISTRATIONS[registration]
    )
    unchanged, grown = figures["unchanged_lesion_pairs"], figures["grown_x1.2_lesion_pairs"]
    assert unchanged["pairs"] == grown["pairs"] == figures["grown_x1.1_lesion_pairs"]["pairs"] == 1
    assert unchanged["read_unchanged"] == 1.0 and unchanged["flagged_changed"] == unchanged["cannot_tell"] == 0.0
    assert unchanged["reasons"] == {}
    assert unchanged["area_ratio_among_decided_p10_p50_p90"][1] == pytest.approx(1.0, abs=0.02)
    assert grown["flagged_changed"] == 1.0
    assert "Area grew" in grown["reasons"]
    assert grown["growth"].startswith("the later photo's annotated lesion enlarged x1.2")
    assert grown["true_area_ratio"] == 1.44
    assert grown["area_ratio_median_absolute_error_among_decided"] < 0.1
    assert grown["area_ratio_auc_against_unchanged"] == 1.0


def test_the_changed_flag_record_reads_the_measured_figures_and_is_silent_without_them(tmp_path):
    metrics = tmp_path / "metrics.json"
    pairs = {"split": "validation", "pairs": 150}
    metrics.write_text(
        json.dumps(
            {
                "unchanged_lesion_pairs": {**pairs, "flagged_changed": 0.08, "cannot_tell": 0.1},
                "grown_x1.2_lesion_pairs": {**pairs, "flagged_changed": 0.9, "cannot_tell": 0.05},
            }
        )
    )
    record = change_record.changed_flag_record(metrics)
    assert record.startswith("Measured on 150 pairs of HAM10000 validation photos of one lesion")
    assert '8% of them read "changed" although the lesion had not changed and 10% "cannot tell"' in record
    assert 'enlarged by 20%, 90% read "changed" and 5% "cannot tell"' in record
    assert change_record.changed_flag_record(tmp_path / "missing.json") == ""
    unchanged_only = tmp_path / "unchanged-only.json"
    unchanged_only.write_text(json.dumps({"unchanged_lesion_pairs": {"pairs": 150, "flagged_changed": 0.32}}))
    assert change_record.changed_flag_record(unchanged_only) == ""


def test_overlap_scores_of_known_masks():
    first = np.zeros((10, 10), dtype=bool)
    second = np.zeros((10, 10), dtype=bool)
    first[:, :6] = True
    second[:, 3:] = True
    jaccard, dice = segmentation_eval.overlap_scores(first, second)
    assert jaccard == pytest.approx(30 / 100)
    assert dice == pytest.approx(2 * 30 / 130)


@pytest.mark.parametrize(
    ("rgb", "lab"),
    [
        ((255, 255, 255), (100.0, 0.0, 0.0)),
        ((255, 0, 0), (53.24, 80.09, 67.20)),
        ((0, 0, 255), (32.30, 79.19, -107.86)),
    ],
)
def test_lab_conversion_matches_reference_values(rgb, lab):
    assert rgb_to_lab(np.array([[rgb]], dtype=np.uint8))[0, 0] == pytest.approx(lab, abs=0.05)


def test_black_bands_around_a_photo_do_not_change_the_learned_outline():
    if learned_segmenter() is None:
        pytest.skip(f"no learned segmenter shipped at {LEARNED_SEGMENTER_PATH}")
    photo = np.asarray(Image.open(REAL_PHOTO).convert("RGB"))
    # The photo zoomed out x0.7 onto black, as a letterboxed or padded upload shows it.
    height, width = photo.shape[:2]
    top, left = round(height * 0.215), round(width * 0.215)
    padded = np.zeros((height + 2 * top, width + 2 * left, 3), dtype=np.uint8)
    padded[top : top + height, left : left + width] = photo
    outline, padded_outline = segment_lesion_learned(photo), segment_lesion_learned(padded)
    assert not padded_outline[:top].any() and not padded_outline[:, :left].any()
    assert _jaccard(padded_outline[top : top + height, left : left + width], outline) > 0.95
    assert content_box(photo) == (slice(0, height), slice(0, width))


def test_the_model_cards_change_section_names_each_target_and_those_not_met():
    from inference.training import evaluate

    figures = {
        "unchanged_lesion_pairs": {"flagged_changed": 0.16, "cannot_tell": 0.1},
        "grown_x1.2_lesion_pairs": {"flagged_changed": 0.91, "area_ratio_median_absolute_error_among_decided": 0.09},
        "grown_x1.1_lesion_pairs": {"flagged_changed": 0.3},
        "segmenters": {
            "learned": {"mean_jaccard": 0.87, "thresholded_jaccard": 0.84, "median_seconds_per_image": 0.02}
        },
    }
    unmet = {name for name, _, _, met in evaluate._change_targets(figures) if not met}
    assert unmet == {
        'unchanged pairs read "changed"',
        "x1.21 growth caught",
        "median absolute error of the x1.44 area ratio",
        "learned segmenter mean Jaccard",
    }
    shipped = "\n".join(evaluate.segmentation_section())
    for name, value, target, met in evaluate._change_targets(json.loads(SEGMENTATION_METRICS_PATH.read_text())):
        assert f"{name} {target}" in shipped
        assert (f"{name} ({value} against {target})" in shipped) is not met
