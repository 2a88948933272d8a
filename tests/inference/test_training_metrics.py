"""Calibration and metric helpers used for the model card."""

from pathlib import Path

import numpy as np
import pytest

from inference.serving.calibration import expected_calibration_error, fit_temperature, softmax
from inference.training.dataset import balanced_weights, sampling_probabilities
from tests.conftest import require_training_extra


def test_fit_temperature_recovers_the_temperature_that_generated_labels():
    rng = np.random.default_rng(0)
    logits = rng.normal(0, 3, (4000, 7))
    true_temperature = 2.5
    probabilities = softmax(logits, temperature=true_temperature)
    labels = np.array([rng.choice(7, p=row) for row in probabilities])
    assert fit_temperature(logits, labels) == pytest.approx(true_temperature, rel=0.1)


def test_ece_is_small_when_calibrated_and_large_when_overconfident():
    rng = np.random.default_rng(1)
    logits = rng.normal(0, 2, (5000, 7))
    probabilities = softmax(logits)
    labels = np.array([rng.choice(7, p=row) for row in probabilities])
    assert expected_calibration_error(probabilities, labels) < 0.03
    assert expected_calibration_error(softmax(logits, temperature=0.3), labels) > 0.1


def test_balanced_weights_equalise_class_contributions():
    labels = np.array([0] * 90 + [1] * 10)
    weights = balanced_weights(labels, n_classes=2)
    assert weights[labels].sum() == pytest.approx(len(labels))
    assert weights[0] * 90 == pytest.approx(weights[1] * 10)


def test_class_sampling_probabilities_and_the_weights_that_balance_what_is_drawn():
    labels = np.array([0] * 90 + [1] * 10)
    assert np.allclose(sampling_probabilities(labels, power=0.0), 1 / 100)
    balanced = sampling_probabilities(labels, power=1.0)
    assert balanced[labels == 0].sum() == pytest.approx(0.5) and balanced[labels == 1].sum() == pytest.approx(0.5)
    sqrt = sampling_probabilities(labels, power=0.5)
    assert sqrt[labels == 0].sum() / sqrt[labels == 1].sum() == pytest.approx(3.0)  # sqrt(90 / 10)
    # Weights computed on the drawn distribution equalise the classes as drawn.
    weights = balanced_weights(labels, n_classes=2, sample_weights=sqrt)
    assert weights[0] * 0.75 == pytest.approx(weights[1] * 0.25)


def test_model_card_metrics_on_a_known_confusion():
    metrics = require_training_extra("inference.training.metrics")
    labels = np.repeat(np.arange(7), 10)
    probabilities = np.full((70, 7), 0.01)
    probabilities[np.arange(70), labels] = 0.94
    probabilities[:5, :] = 0.01
    probabilities[:5, 5] = 0.94  # half of akiec called nv
    result = metrics.diagnosis_metrics(probabilities, labels)
    assert result["balanced_accuracy"] == pytest.approx((0.5 + 6) / 7)
    assert result["per_class"]["akiec"]["sensitivity"] == pytest.approx(0.5)
    assert result["per_class"]["nv"]["specificity"] == pytest.approx(55 / 60)
    assert result["confusion_matrix"][0][5] == 5


def test_the_model_cards_train_command_reproduces_the_runs_settings():
    import dataclasses

    train_command = require_training_extra("inference.training.evaluate").train_command
    from inference.training.train import Config, parse_config

    run = Config(
        run="deep",
        split_block=3,
        init_from="base",
        head_epochs=0,
        learning_rate=5e-05,
        average_last=4,
        views="fresh",
        class_sampling_power=0.5,
        version="lite0-x",
    )
    recorded = {key: str(value) if isinstance(value, Path) else value for key, value in dataclasses.asdict(run).items()}
    command = train_command(recorded, export=True)
    assert command.startswith("python -m inference.training.train --run deep ")
    parsed = parse_config(command.split()[3:])
    assert parsed.export_dir == Path("inference/artifacts")
    assert dataclasses.replace(parsed, export_dir=None) == run
    [stage] = require_training_extra("inference.training.evaluate")._training_stages([recorded])
    assert "a fresh random view per draw, images drawn with probability proportional to n_class^-0.5" in stage


def test_the_balanced_accuracy_interval_resamples_lesions_and_brackets_the_figure():
    metrics = require_training_extra("inference.training.metrics")
    rng = np.random.default_rng(3)
    labels = np.repeat(np.arange(7), 40)
    probabilities = rng.random((len(labels), 7))
    lesions = np.arange(len(labels)) // 4  # four photos of each lesion, read alike: right or wrong together
    right = (rng.random(len(labels) // 4) < 0.7)[lesions]
    probabilities[right, labels[right]] += 2  # about 70% recall in every class
    figure = metrics.balanced_accuracy(probabilities, labels, names=tuple("abcdefg"))
    by_image = metrics.balanced_accuracy_interval(probabilities, labels, np.arange(len(labels)))
    assert by_image[0] < figure < by_image[1] and 0.05 < by_image[1] - by_image[0] < 0.2
    # Resampling whole lesions sees that their photos are not independent: a wider, honest interval.
    by_lesion = metrics.balanced_accuracy_interval(probabilities, labels, lesions)
    assert by_lesion[1] - by_lesion[0] > by_image[1] - by_image[0]
    perfect = metrics.balanced_accuracy_interval(np.eye(7)[labels], labels, np.arange(len(labels)))
    assert perfect == (1.0, 1.0)
