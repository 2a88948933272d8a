"""Measure lesion segmentation on the lesion-grouped validation split and write the figures for the model card.

    python -m inference.segmentation_eval   # all validation images -> inference/artifacts/segmentation-metrics.json
    python -m inference.segmentation_eval --limit 50 --output /tmp/metrics.json

Figures: mean Jaccard (IoU), mean Dice, and the ISIC 2018 Task 1 thresholded Jaccard, where an image whose
Jaccard is below 0.65 counts as 0 (that challenge's leaderboard top was 0.802).
"""

from __future__ import annotations

import argparse
import csv
import json
import time
from pathlib import Path

import numpy as np
from PIL import Image

from inference.segmentation import DEFAULT_PARAMS, segment_lesion

REPO_ROOT = Path(__file__).resolve().parents[1]
DATA_DIR = REPO_ROOT.parent / "shared" / "data" / "ham10000"
SPLIT_CSV = REPO_ROOT / "inference" / "splits" / "ham10000_split.csv"
METRICS_PATH = REPO_ROOT / "inference" / "artifacts" / "segmentation-metrics.json"
ISIC_JACCARD_FLOOR = 0.65
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


def validation_image_ids(split_csv: Path = SPLIT_CSV) -> list[str]:
    with split_csv.open() as handle:
        return [row["image_id"] for row in csv.DictReader(handle) if row["split"] == "validation"]


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
    arguments = parser.parse_args()
    image_ids = validation_image_ids()[: arguments.limit]
    metrics = evaluate(image_ids=image_ids)
    arguments.output.parent.mkdir(parents=True, exist_ok=True)
    arguments.output.write_text(json.dumps(metrics, indent=2) + "\n")
    print(json.dumps(metrics, indent=2))


if __name__ == "__main__":
    main()
