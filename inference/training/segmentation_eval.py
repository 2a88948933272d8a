"""Measure lesion segmentation on the lesion-grouped validation split and write the figures for the model card.

    python -m inference.training.segmentation_eval   # all validation images
                                                     # -> inference/artifacts/segmentation-metrics.json
    python -m inference.training.segmentation_eval --limit 50 --output /tmp/metrics.json

Figures: mean Jaccard (IoU), mean Dice, and the ISIC 2018 Task 1 thresholded Jaccard, where an image whose
Jaccard is below 0.65 counts as 0 (that challenge's leaderboard top was 0.802).

Every segmenter available (classical; learned where its model file is shipped) is measured side by side; the
top-level figures are the serving one's.

With --pairs N it also runs the change comparison on N pairs of photos of the same lesion from the split
(HAM10000 holds several photos of some lesions, mostly taken on the same day before excision, so the lesion did
not change between them): how often the answer is "changed" anyway or "cannot tell"; then the same pairs with the
later photo's lesion enlarged x1.2 and x1.1 in diameter: how often that growth is caught, how far the area ratio
read is from the truth, and the ROC of that ratio. Each segmenter x registration named is measured:

    python -m inference.training.segmentation_eval --pairs 150 --pairs-segmenters learned,classical \\
        --pairs-registrations opencv

With --rephotographed N it also compares each of the split's first N photos against itself photographed again
(seeded: turned, closer or farther, off-centre, in other light) and against that copy with its annotated lesion
grown x1.2 and x1.1 over skin that stays put: photos of a lesion taken a year apart, with the truth known exactly.

(The hand-written registration measured beside OpenCV's in segmentation-metrics.json was deleted once the library
measured better; its rows stay there as measured.)
"""

from __future__ import annotations

import argparse
import csv
import json
import time
from pathlib import Path

import numpy as np
from PIL import Image

from inference.analysis.change import (
    CANNOT_TELL,
    CHANGED,
    RELIABLE_QUALITY,
    UNCHANGED,
    LesionChange,
    compare_lesion_images,
)
from inference.analysis.change_record import GROWTH_FACTOR, grown_key
from inference.analysis.learned_segmenter import learned_segmenter, learned_segmenter_serves
from inference.analysis.registration import register
from inference.analysis.segmentation import segment_lesion, segment_lesion_classical, segment_lesion_learned
from inference.paths import DEFAULT_DATA_DIR, SEGMENTATION_METRICS_PATH, SPLIT_CSV
from inference.training.synthetic import enlarge_lesion, rephotograph

ISIC_JACCARD_FLOOR = 0.65
GROWTH_FACTORS = (GROWTH_FACTOR, 1.1)  # diameter; x1.44 and x1.21 in area
REGISTRATIONS = {"opencv": register}
SERVING_REGISTRATION = "opencv"
LEARNED_METHOD = (
    "Learned: EfficientNet-Lite0 ImageNet blocks 0-4 (frozen) and 5-10 (fine-tuned, batch-norm statistics kept) with "
    "a small upsampling decoder with skip connections at strides 4, 8 and 16, trained for 3 epochs by `python -m "
    "inference.training.train_segmenter` on the training split's masks and their mirror images (cross-entropy + "
    "Dice); served with ONNX Runtime; most central region, holes filled."
)
CLASSICAL_METHOD = (
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


def _photo_and_annotation(data_dir: Path, image_id: str) -> tuple[np.ndarray, np.ndarray]:
    photo = np.asarray(Image.open(data_dir / "images" / f"{image_id}.jpg").convert("RGB"))
    mask = np.asarray(Image.open(data_dir / "masks" / f"{image_id}_segmentation.png").convert("L")) >= 128
    return photo, mask


def evaluate_lesion_pairs(
    *, pairs: list[tuple[str, str]], segment=segment_lesion, align=register, data_dir: Path = DEFAULT_DATA_DIR
) -> dict[str, dict]:
    """How the change comparison reads pairs of photos of a lesion that did not change, and the same pairs after
    the later photo's lesion was enlarged by each of GROWTH_FACTORS: false alarms, and growth caught on top of the
    noise of a real second photo (framing, lighting, segmentation). `segment` outlines every photo (the grown ones
    included); `align` registers the pair."""
    photos = (
        (_photo_and_annotation(data_dir, before_id)[0], *_photo_and_annotation(data_dir, after_id))
        for before_id, after_id in pairs
    )
    return _pair_figures(_read_pairs(photos, segment=segment, align=align))


def rephotographed_views(*, count: int, seed: int = 0) -> list[dict]:
    """Seeded camera moves for `count` photos: turned up to 25 degrees either way, 0.8-1.25 times closer, framed up
    to 8% of the photo off-centre, in 0.85-1.15 times the light."""
    moves = []
    for index in range(count):
        rng = np.random.default_rng([seed, index])
        moves.append(
            {
                "angle": float(rng.uniform(-25, 25)),
                "zoom": float(np.exp(rng.uniform(np.log(0.8), np.log(1.25)))),
                "shift_fraction": (float(rng.uniform(-0.08, 0.08)), float(rng.uniform(-0.08, 0.08))),
                "light": float(rng.uniform(0.85, 1.15)),
            }
        )
    return moves


def evaluate_rephotographed(
    *, image_ids: list[str], segment=segment_lesion, align=register, data_dir: Path = DEFAULT_DATA_DIR
) -> dict[str, dict]:
    """How the change comparison reads each photo against itself photographed again (`rephotographed_views`: turned,
    closer or farther, off-centre, in other light), and against that copy with its lesion enlarged by each of
    GROWTH_FACTORS over skin that stays put: the photos a clinic takes a year apart, with a truth known exactly."""

    def photographed_again():
        for image_id, move in zip(image_ids, rephotographed_views(count=len(image_ids)), strict=True):
            photo, annotation = _photo_and_annotation(data_dir, image_id)
            height, width = photo.shape[:2]
            geometry = {
                "angle": move["angle"],
                "zoom": move["zoom"],
                "shift": (move["shift_fraction"][0] * width, move["shift_fraction"][1] * height),
            }
            again = np.asarray(rephotograph(Image.fromarray(photo), **geometry, light=move["light"]))
            outline = rephotograph(Image.fromarray(annotation.astype(np.uint8) * 255), **geometry, light=1.0)
            yield photo, again, np.asarray(outline) >= 128

    return _pair_figures(_read_pairs(photographed_again(), segment=segment, align=align))


def _read_pairs(photos, *, segment, align) -> dict[str, list]:
    """Each (earlier photo, later photo, later photo's annotated outline) compared as it is and with the later
    lesion enlarged by each of GROWTH_FACTORS: the timed comparisons, by kind of pair."""
    readings: dict[str, list] = {"unchanged_lesion_pairs": []}
    readings.update({grown_key(factor): [] for factor in GROWTH_FACTORS})
    for before, after, after_annotation in photos:
        before_mask = segment(before)
        readings["unchanged_lesion_pairs"].append(_timed_comparison(before, after, before_mask, segment, align))
        for factor in GROWTH_FACTORS:
            grown = enlarge_lesion(after, after_annotation, factor=factor)
            readings[grown_key(factor)].append(_timed_comparison(before, grown, before_mask, segment, align))
    return readings


def _pair_figures(readings: dict[str, list]) -> dict[str, dict]:
    unchanged_ratios = _area_ratios(readings["unchanged_lesion_pairs"])
    figures = {"unchanged_lesion_pairs": _summarise(readings["unchanged_lesion_pairs"], true_area_ratio=1.0)}
    for factor in GROWTH_FACTORS:
        comparisons = readings[grown_key(factor)]
        figures[grown_key(factor)] = {
            "growth": f"the later photo's annotated lesion enlarged x{factor} in diameter (x{factor**2:.2f} in area) "
            "about its centre",
            **_summarise(comparisons, true_area_ratio=factor**2),
            "area_ratio_auc_against_unchanged": _auc(unchanged_ratios, _area_ratios(comparisons)),
            "area_ratio_roc_against_unchanged": _roc_points(unchanged_ratios, _area_ratios(comparisons)),
        }
    return figures


def _timed_comparison(before, after, before_mask, segment, align) -> tuple[LesionChange, float]:
    started = time.perf_counter()
    change = compare_lesion_images(before, after, before_mask=before_mask, after_mask=segment(after), align=align)
    return change, time.perf_counter() - started


def _area_ratios(comparisons: list[tuple[LesionChange, float]]) -> np.ndarray:
    """Area ratios read, where the alignment was fair (a missing figure counts as no change)."""
    ratios = np.array([change.area_ratio if change.reliable else 1.0 for change, _ in comparisons], dtype=float)
    return np.where(np.isfinite(ratios), ratios, 1.0)


def _auc(negatives: np.ndarray, positives: np.ndarray) -> float:
    """Probability that a grown pair reads a larger area ratio than an unchanged one (ties count half)."""
    greater = (positives[:, None] > negatives[None, :]).mean()
    ties = (positives[:, None] == negatives[None, :]).mean()
    return round(float(greater + ties / 2), 4)


def _roc_points(negatives: np.ndarray, positives: np.ndarray) -> list[list[float]]:
    """(threshold, false alarm rate, growth caught) for area-ratio thresholds from x1.0 to x1.6."""
    return [
        [threshold, round(float((negatives > threshold).mean()), 3), round(float((positives > threshold).mean()), 3)]
        for threshold in (1.0, 1.05, 1.1, 1.15, 1.2, 1.25, 1.3, 1.4, 1.5, 1.6)
    ]


def _summarise(comparisons: list[tuple[LesionChange, float]], *, true_area_ratio: float) -> dict:
    changes = [change for change, _ in comparisons]
    verdicts = np.array([change.verdict for change in changes])
    reliable = np.array([change.reliable for change in changes])
    decided = np.array([change.verdict != CANNOT_TELL for change in changes])
    area_ratios = np.array([change.area_ratio for change in changes if change.verdict != CANNOT_TELL])
    area_ratios = area_ratios[np.isfinite(area_ratios)]
    reason_counts: dict[str, int] = {}
    for change in changes:
        for reason in change.reasons + change.cannot_tell_reasons:
            kind = reason.split(":")[0].split(" (")[0]
            reason_counts[kind] = reason_counts.get(kind, 0) + 1
    return {
        "pairs": len(changes),
        "flagged_changed": round(float((verdicts == CHANGED).mean()), 4),
        "cannot_tell": round(float((verdicts == CANNOT_TELL).mean()), 4),
        "read_unchanged": round(float((verdicts == UNCHANGED).mean()), 4),
        "flagged_changed_among_decided": round(float((verdicts[decided] == CHANGED).mean()), 4)
        if decided.any()
        else None,
        "reliable_alignment": round(float(reliable.mean()), 4),
        "reliable_alignment_threshold": RELIABLE_QUALITY,
        "true_area_ratio": round(true_area_ratio, 4),
        "area_ratio_median_absolute_error_among_decided": round(
            float(np.median(np.abs(area_ratios - true_area_ratio))), 4
        )
        if area_ratios.size
        else None,
        "area_ratio_among_decided_p10_p50_p90": [
            round(float(value), 3) for value in np.percentile(area_ratios, [10, 50, 90])
        ]
        if area_ratios.size
        else None,
        "reasons": reason_counts,
        "median_seconds_per_pair": round(float(np.median([seconds for _, seconds in comparisons])), 3),
    }


def segmenters() -> dict[str, tuple[str, callable]]:
    """The segmenters to measure side by side: name -> (description, HxW-mask function)."""
    available = {"classical": (CLASSICAL_METHOD, segment_lesion_classical)}
    if learned_segmenter() is not None:
        available["learned"] = (LEARNED_METHOD, segment_lesion_learned)
    return available


def serving_segmenter_name() -> str:
    return "learned" if learned_segmenter_serves() else "classical"


def evaluate(
    *, image_ids: list[str], data_dir: Path = DEFAULT_DATA_DIR, segment=segment_lesion, method: str = ""
) -> dict:
    jaccards, dices, seconds = [], [], []
    for image_id in image_ids:
        photo = Image.open(data_dir / "images" / f"{image_id}.jpg")
        truth = np.asarray(Image.open(data_dir / "masks" / f"{image_id}_segmentation.png").convert("L")) >= 128
        rgb = np.asarray(photo.convert("RGB"))
        started = time.perf_counter()
        predicted = segment(rgb)
        seconds.append(time.perf_counter() - started)
        jaccard, dice = overlap_scores(predicted, truth)
        jaccards.append(jaccard)
        dices.append(dice)
    jaccards = np.array(jaccards)
    return {
        "method": method,
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
    parser.add_argument("--output", type=Path, default=SEGMENTATION_METRICS_PATH)
    parser.add_argument("--pairs", type=int, default=0, help="also compare N same-lesion photo pairs")
    parser.add_argument("--pairs-split", default="validation", choices=["train", "validation"])
    parser.add_argument(
        "--rephotographed",
        type=int,
        default=0,
        help="also compare N photos of the split against themselves photographed again (and grown)",
    )
    parser.add_argument("--pairs-segmenters", default="", help="comma-separated; default: the serving one")
    parser.add_argument(
        "--pairs-registrations", default=SERVING_REGISTRATION, help=f"comma-separated, of {', '.join(REGISTRATIONS)}"
    )
    parser.add_argument(
        "--add-pairs-to",
        type=Path,
        help="measure only pairs, adding their configurations to this metrics file (slow "
        "configurations can then run in parallel processes)",
    )
    arguments = parser.parse_args()
    serving = serving_segmenter_name()
    metrics = {}
    if not arguments.add_pairs_to:
        image_ids = validation_image_ids()[: arguments.limit]
        side_by_side = {
            name: evaluate(image_ids=image_ids, segment=segment, method=method)
            for name, (method, segment) in segmenters().items()
        }
        metrics = {**side_by_side[serving], "serving_segmenter": serving, "segmenters": side_by_side}
    configurations = {}
    if arguments.pairs:
        pairs = same_lesion_pairs(split=arguments.pairs_split, limit=arguments.pairs)
        for segmenter_name in (arguments.pairs_segmenters or serving).split(","):
            for registration_name in arguments.pairs_registrations.split(","):
                figures = evaluate_lesion_pairs(
                    pairs=pairs, segment=segmenters()[segmenter_name][1], align=REGISTRATIONS[registration_name]
                )
                configurations[(segmenter_name, registration_name)] = {
                    name: {"split": arguments.pairs_split, **values} for name, values in figures.items()
                }
    rephotographed = {}
    if arguments.rephotographed:
        image_ids = [row["image_id"] for row in _split_rows(arguments.pairs_split)][: arguments.rephotographed]
        for segmenter_name in (arguments.pairs_segmenters or serving).split(","):
            figures = evaluate_rephotographed(image_ids=image_ids, segment=segmenters()[segmenter_name][1])
            rephotographed[f"{segmenter_name} segmenter, {SERVING_REGISTRATION} registration"] = {
                name: {"split": arguments.pairs_split, **values} for name, values in figures.items()
            }
    if arguments.add_pairs_to:  # read only now: another process may have written it meanwhile
        arguments.output = arguments.add_pairs_to
        metrics = json.loads(arguments.add_pairs_to.read_text())
    for (segmenter_name, registration_name), figures in configurations.items():
        metrics.setdefault("pair_configurations", {})[
            f"{segmenter_name} segmenter, {registration_name} registration"
        ] = figures
        if (segmenter_name, registration_name) == (serving, SERVING_REGISTRATION):
            metrics.update(figures)
    for name, figures in rephotographed.items():
        metrics.setdefault("rephotographed_configurations", {})[name] = figures
    arguments.output.parent.mkdir(parents=True, exist_ok=True)
    arguments.output.write_text(json.dumps(metrics, indent=2) + "\n")
    print(json.dumps(metrics, indent=2))


if __name__ == "__main__":
    main()
