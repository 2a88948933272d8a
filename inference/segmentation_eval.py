"""Measure lesion segmentation on the lesion-grouped validation split and write the figures for the model card.

    python -m inference.segmentation_eval   # all validation images -> inference/artifacts/segmentation-metrics.json
    python -m inference.segmentation_eval --limit 50 --output /tmp/metrics.json

Figures: mean Jaccard (IoU), mean Dice, and the ISIC 2018 Task 1 thresholded Jaccard, where an image whose
Jaccard is below 0.65 counts as 0 (that challenge's leaderboard top was 0.802).

With --pairs N it also runs the change comparison on N pairs of photos of the same lesion from the split
(HAM10000 holds several photos of some lesions, mostly taken on the same day before excision, so the lesion did
not change between them): how often the "changed" flag is raised anyway, and how often the alignment is good;
then the same pairs with the later photo's lesion enlarged by 20%: how often that growth is flagged.
"""

from __future__ import annotations

import argparse
import csv
import functools
import json
import time
from pathlib import Path

import numpy as np
from PIL import Image

from inference.change import RELIABLE_QUALITY, LesionChange, compare_lesion_images
from inference.seg_synthetic import enlarge_lesion
from inference.segmentation import DEFAULT_PARAMS, segment_lesion

REPO_ROOT = Path(__file__).resolve().parents[1]
DATA_DIR = REPO_ROOT.parent / "shared" / "data" / "ham10000"
SPLIT_CSV = REPO_ROOT / "inference" / "splits" / "ham10000_split.csv"
METRICS_PATH = REPO_ROOT / "inference" / "artifacts" / "segmentation-metrics.json"
ISIC_JACCARD_FLOOR = 0.65
GROWTH_FACTOR = 1.2  # the growth the change tests require to be flagged
METHOD = (
    "Classical colour segmentation (numpy/scipy): hair removal by grey closing, dermoscope vignette masking, "
    "CIE Lab distance from the skin colour of the image border, scaled Otsu threshold, most central large "
    "component, hole filling, outline smoothing and a margin; parameters tuned on the training split only."
)


def overlap_scores(predicted: np.ndarray, truth: np.ndarray) -> tuple[float, float]:
    """(Jaccard, Dice) of two boolean masks; two empty masks agree perfectly."""
    intersection = np.count_nonzero(predicted & truth)
    union = np.count_nonzero(predicted | truth)
    total = np.count_nonzero(predicted) + np.count_nonzero(truth)
    if union == 0:
        return 1.0, 1.0
    return intersection / union, 2 * intersection / total


def _split_rows(split: str, split_csv: Path = SPLIT_CSV) -> list[dict]:
    with split_csv.open() as handle:
        return [row for row in csv.DictReader(handle) if row["split"] == split]


def validation_image_ids(split_csv: Path = SPLIT_CSV) -> list[str]:
    return [row["image_id"] for row in _split_rows("validation", split_csv)]


def same_lesion_pairs(*, split: str, limit: int) -> list[tuple[str, str]]:
    """The first two photos (by image id) of each lesion that has several, in lesion order, at most `limit`."""
    photos_by_lesion: dict[str, list[str]] = {}
    for row in _split_rows(split):
        photos_by_lesion.setdefault(row["lesion_id"], []).append(row["image_id"])
    pairs = [tuple(sorted(photos)[:2]) for _, photos in sorted(photos_by_lesion.items()) if len(photos) > 1]
    return pairs[:limit]


def evaluate_lesion_pairs(*, pairs: list[tuple[str, str]], data_dir: Path = DATA_DIR) -> dict[str, dict]:
    """How the change comparison reads pairs of photos of a lesion that did not change, and the same pairs after
    the later photo's lesion was enlarged by GROWTH_FACTOR: false alarms, and growth caught on top of the noise
    of a real second photo (framing, lighting, segmentation)."""
    unchanged, grown = [], []
    for before_id, after_id in pairs:
        before = np.asarray(Image.open(data_dir / "images" / f"{before_id}.jpg").convert("RGB"))
        after = np.asarray(Image.open(data_dir / "images" / f"{after_id}.jpg").convert("RGB"))
        after_mask = np.asarray(Image.open(data_dir / "masks" / f"{after_id}_segmentation.png").convert("L")) >= 128
        unchanged.append(_timed_comparison(before, after))
        grown.append(_timed_comparison(before, enlarge_lesion(after, after_mask, factor=GROWTH_FACTOR)))
    return {
        "unchanged_lesion_pairs": _summarise(unchanged),
        "grown_lesion_pairs": {
            "growth": f"the later photo's annotated lesion enlarged x{GROWTH_FACTOR} in diameter "
            f"(x{GROWTH_FACTOR**2:.2f} in area) about its centre",
            **_summarise(grown),
        },
    }


def _timed_comparison(before: np.ndarray, after: np.ndarray) -> tuple[LesionChange, float]:
    started = time.perf_counter()
    change = compare_lesion_images(before, after)
    return change, time.perf_counter() - started


def _summarise(comparisons: list[tuple[LesionChange, float]]) -> dict:
    changes = [change for change, _ in comparisons]
    flagged = np.array([change.changed for change in changes])
    reliable = np.array([change.reliable for change in changes])
    area_ratios = np.array([change.area_ratio for change in changes if change.reliable])
    area_ratios = area_ratios[np.isfinite(area_ratios)]
    reason_counts: dict[str, int] = {}
    for change in changes:
        for reason in change.reasons:
            kind = reason.split(":")[0]
            reason_counts[kind] = reason_counts.get(kind, 0) + 1
    return {
        "pairs": len(changes),
        "flagged_changed": round(float(flagged.mean()), 4),
        "reliable_alignment": round(float(reliable.mean()), 4),
        "reliable_alignment_threshold": RELIABLE_QUALITY,
        "flagged_changed_among_reliable": round(float(flagged[reliable].mean()), 4) if reliable.any() else None,
        "flagged_changed_among_poor": round(float(flagged[~reliable].mean()), 4) if (~reliable).any() else None,
        "area_ratio_among_reliable_p10_p50_p90": [
            round(float(value), 3) for value in np.percentile(area_ratios, [10, 50, 90])
        ]
        if area_ratios.size
        else None,
        "colour_change_delta_e_median_p90": [
            round(float(np.percentile([change.colour_change for change in changes], q)), 2) for q in (50, 90)
        ],
        "reasons": reason_counts,
        "median_seconds_per_pair": round(float(np.median([seconds for _, seconds in comparisons])), 3),
    }


@functools.cache
def changed_flag_record(metrics_path: Path = METRICS_PATH) -> str:
    """How often the changed flag was right on validation photo pairs, in words; '' where it was not measured."""
    try:
        figures = json.loads(metrics_path.read_text())
        unchanged, grown = figures["unchanged_lesion_pairs"], figures["grown_lesion_pairs"]
    except (OSError, ValueError, KeyError):
        return ""
    return (
        f"Measured on {unchanged['pairs']} pairs of HAM10000 {unchanged['split']} photos of one lesion, mostly taken "
        f"on the same day: the flag was raised for {unchanged['flagged_changed']:.0%} of them although the lesion had "
        f"not changed, and for {grown['flagged_changed']:.0%} of the same pairs after the later photo's lesion was "
        f"enlarged by {GROWTH_FACTOR - 1:.0%}. A flag is a prompt to compare the photos by eye; no flag does not rule "
        "out change."
    )


def evaluate(*, image_ids: list[str], data_dir: Path = DATA_DIR) -> dict:
    jaccards, dices, seconds = [], [], []
    for image_id in image_ids:
        photo = Image.open(data_dir / "images" / f"{image_id}.jpg")
        truth = np.asarray(Image.open(data_dir / "masks" / f"{image_id}_segmentation.png").convert("L")) >= 128
        started = time.perf_counter()
        predicted = segment_lesion(photo)
        seconds.append(time.perf_counter() - started)
        jaccard, dice = overlap_scores(predicted, truth)
        jaccards.append(jaccard)
        dices.append(dice)
    jaccards = np.array(jaccards)
    return {
        "method": METHOD,
        "parameters": DEFAULT_PARAMS.__dict__,
        "split": "validation (lesion-grouped, inference/splits/ham10000_split.csv)",
        "images": len(image_ids),
        "image_size": "200x150 HAM10000 copies; masks: value >= 128 is lesion",
        "mean_jaccard": round(float(jaccards.mean()), 4),
        "mean_dice": round(float(np.mean(dices)), 4),
        "thresholded_jaccard": round(float(np.where(jaccards >= ISIC_JACCARD_FLOOR, jaccards, 0.0).mean()), 4),
        "share_below_0_65": round(float((jaccards < ISIC_JACCARD_FLOOR).mean()), 4),
        "median_jaccard": round(float(np.median(jaccards)), 4),
        "isic2018_task1_leaderboard_top_thresholded_jaccard": 0.802,
        "median_seconds_per_image": round(float(np.median(seconds)), 4),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description="Evaluate lesion segmentation on the validation split.")
    parser.add_argument("--limit", type=int, help="only the first N validation images (a quick check)")
    parser.add_argument("--output", type=Path, default=METRICS_PATH)
    parser.add_argument("--pairs", type=int, default=0, help="also compare N same-lesion photo pairs")
    parser.add_argument("--pairs-split", default="validation", choices=["train", "validation"])
    arguments = parser.parse_args()
    image_ids = validation_image_ids()[: arguments.limit]
    metrics = evaluate(image_ids=image_ids)
    if arguments.pairs:
        pairs = same_lesion_pairs(split=arguments.pairs_split, limit=arguments.pairs)
        for name, figures in evaluate_lesion_pairs(pairs=pairs).items():
            metrics[name] = {"split": arguments.pairs_split, **figures}
    arguments.output.parent.mkdir(parents=True, exist_ok=True)
    arguments.output.write_text(json.dumps(metrics, indent=2) + "\n")
    print(json.dumps(metrics, indent=2))


if __name__ == "__main__":
    main()
