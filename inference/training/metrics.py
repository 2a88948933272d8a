"""Validation metrics for the model card (evaluation only; imports pandas/sklearn)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from isic_challenge_scoring.metrics import balanced_multiclass_accuracy as isic_balanced_accuracy
from sklearn.metrics import confusion_matrix, roc_auc_score, roc_curve

from inference.serving.calibration import expected_calibration_error
from inference.serving.labels import CLASSES, MALIGNANT_CLASSES


def balanced_accuracy(probabilities: np.ndarray, labels: np.ndarray, *, names: tuple[str, ...]) -> float:
    """Mean per-class recall of the arg-max, as the ISIC challenge scores it."""
    truth = pd.DataFrame(np.eye(len(names))[labels], columns=list(names))
    prediction = pd.DataFrame(probabilities, columns=list(names))
    return float(isic_balanced_accuracy(truth, prediction, pd.Series(np.ones(len(labels)))))


def sensitivity_at_specificity(scores: np.ndarray, positive: np.ndarray, *, specificity: float) -> float:
    false_positive_rate, true_positive_rate, _ = roc_curve(positive, scores)
    allowed = false_positive_rate <= 1.0 - specificity
    return float(true_positive_rate[allowed].max())


def per_class(probabilities: np.ndarray, labels: np.ndarray) -> dict[str, dict[str, float]]:
    predicted = probabilities.argmax(axis=1)
    table = {}
    for index, name in enumerate(CLASSES):
        positive, called = labels == index, predicted == index
        table[name] = {
            "n": int(positive.sum()),
            "sensitivity": float((called & positive).sum() / max(positive.sum(), 1)),
            "specificity": float((~called & ~positive).sum() / max((~positive).sum(), 1)),
            "auc": float(roc_auc_score(positive, probabilities[:, index])),
        }
    return table


def diagnosis_metrics(probabilities: np.ndarray, labels: np.ndarray) -> dict:
    melanoma = CLASSES.index("mel")
    is_melanoma = labels == melanoma
    malignant = [CLASSES.index(name) for name in MALIGNANT_CLASSES]
    classes = per_class(probabilities, labels)
    return {
        "balanced_accuracy": balanced_accuracy(probabilities, labels, names=CLASSES),
        "accuracy": float((probabilities.argmax(axis=1) == labels).mean()),
        "macro_auc": float(np.mean([row["auc"] for row in classes.values()])),
        "melanoma_auc": classes["mel"]["auc"],
        "melanoma_sensitivity_at_80_specificity": sensitivity_at_specificity(
            probabilities[:, melanoma], is_melanoma, specificity=0.80
        ),
        "melanoma_sensitivity_at_90_specificity": sensitivity_at_specificity(
            probabilities[:, melanoma], is_melanoma, specificity=0.90
        ),
        "malignancy_auc": float(roc_auc_score(np.isin(labels, malignant), probabilities[:, malignant].sum(axis=1))),
        "ece": expected_calibration_error(probabilities, labels),
        "per_class": classes,
        "confusion_matrix": confusion_matrix(labels, probabilities.argmax(axis=1), labels=range(len(CLASSES))).tolist(),
    }


def balanced_accuracy_interval(
    probabilities: np.ndarray, labels: np.ndarray, groups, *, resamples: int = 1000, seed: int = 0
) -> tuple[float, float]:
    """95% bootstrap interval of the balanced accuracy, resampling whole groups (lesions) with replacement."""
    predicted = probabilities.argmax(axis=1)
    rows_of = {}
    for row, group in enumerate(groups):
        rows_of.setdefault(group, []).append(row)
    grouped = [np.array(rows) for rows in rows_of.values()]
    rng = np.random.default_rng(seed)
    scores = []
    for _ in range(resamples):
        rows = np.concatenate([grouped[index] for index in rng.integers(0, len(grouped), len(grouped))])
        truth, called = labels[rows], predicted[rows]
        present = np.unique(truth)
        scores.append(np.mean([(called[truth == label] == label).mean() for label in present]))
    low, high = np.percentile(scores, [2.5, 97.5])
    return float(low), float(high)
