"""Training smoke tests: a few dozen synthetic images through the real `inference.training.train` code path."""

import dataclasses
import json

import numpy as np
import pytest

from tests.conftest import require_training_extra

require_training_extra("tensorflow")

from inference import Classifier  # noqa: E402
from inference.serving import preprocessing  # noqa: E402
from inference.serving.labels import CLASSES  # noqa: E402
from inference.training.train import Config, parse_config, train  # noqa: E402


def _config(tmp_path, data_dir, split_csv, **overrides) -> Config:
    settings = dict(
        size=64,
        variants=2,
        head_epochs=1,
        epochs=1,
        batch_size=8,
        threads=2,
        data_dir=data_dir,
        split_csv=split_csv,
        cache_dir=tmp_path / "cache",
        runs_dir=tmp_path / "runs",
        reports_dir=tmp_path / "reports",
    )
    return Config(**{**settings, **overrides})


def test_lite0_trains_one_epoch_exports_and_serves(tmp_path, synthetic_dataset, monkeypatch):
    data_dir, split_csv = synthetic_dataset
    rendered = []
    real_preprocess = preprocessing.preprocess

    def counting_preprocess(image, *, size):
        rendered.append(size)
        return real_preprocess(image, size=size)

    monkeypatch.setattr(preprocessing, "preprocess", counting_preprocess)
    config = _config(tmp_path, data_dir, split_csv, run="smoke", export_dir=tmp_path / "export", version="smoke-1")
    summary = train(config)

    # 28 train images x 2 views + 14 validation images, all through the shared preprocess.
    assert rendered == [64] * (28 * 2 + 14)
    metrics = summary["metrics"]
    assert 0.0 <= metrics["balanced_accuracy"] <= 1.0 and 0.0 <= metrics["macro_auc"] <= 1.0
    assert summary["temperature"]["diagnosis"] > 0
    for stage in ("heads", "finetune"):
        assert (config.run_dir / stage / "best.weights.h5").exists()
        assert len((config.run_dir / stage / "history.csv").read_text().splitlines()) == 2  # header + 1 epoch
    report = json.loads((config.reports_dir / "smoke-summary.json").read_text())
    assert report["version"] == "smoke-1"

    classifier = Classifier.load(tmp_path / "export" / "skin-lite0.onnx")
    [prediction] = classifier.predict([data_dir / "images" / "SYN_000.jpg"])
    assert classifier.version == "smoke-1"
    assert sum(prediction.probabilities.values()) == pytest.approx(1.0, abs=1e-6)

    # A second run finds every stage complete and resumes without retraining.
    rendered.clear()
    again = train(dataclasses.replace(config, export_dir=None))
    assert rendered == []  # the cached views are reused
    assert again["metrics"]["balanced_accuracy"] == pytest.approx(metrics["balanced_accuracy"])

    # Progressive unfreezing: a deeper fine-tune starts from this run's weights, without a heads stage, and ends
    # with the average of its last two epochs' weights; this one with the logit-adjusted loss, class-balanced
    # draws and a fresh view of every drawn image in each epoch (nothing cached but the validation view).
    deeper = dataclasses.replace(
        config,
        run="smoke-deep",
        init_from="smoke",
        split_block=8,
        head_epochs=0,
        epochs=2,
        average_last=2,
        diagnosis_loss="logit_adjusted",
        views="fresh",
        class_sampling_power=0.5,
        export_dir=None,
    )
    deeper_summary = train(deeper)
    assert len(rendered) >= 28 * 2 and set(rendered) == {64}  # Keras also reads a batch to learn the input types
    assert not (deeper.run_dir / "heads").exists()
    epoch_files = sorted(path.name for path in (deeper.run_dir / "finetune").glob("epoch-*.weights.h5"))
    assert epoch_files == ["epoch-001.weights.h5", "epoch-002.weights.h5"]

    # That run trained the whole image model (compiled with the custom loss); the next run still starts from it.
    onward = dataclasses.replace(deeper, run="smoke-onward", init_from="smoke-deep", epochs=0)
    assert train(onward)["metrics"] == deeper_summary["metrics"]
    np.testing.assert_allclose(
        np.load(onward.run_dir / "validation_logits.npz")["diagnosis"],
        np.load(deeper.run_dir / "validation_logits.npz")["diagnosis"],
        atol=1e-5,
    )


def test_the_logit_adjusted_objective_offsets_logits_by_the_log_prior_instead_of_weighting():
    import keras

    from inference.training.dataset import Split
    from inference.training.train import Objective

    split = Split(
        image_ids=tuple(f"I{index}" for index in range(10)),
        diagnosis=np.array([5] * 8 + [4, 0]),
        dx_type=np.array([1] * 9 + [0]),
    )
    weighted = Objective.for_run(Config(), split)
    assert weighted.diagnosis_offset is None and weighted.diagnosis_weights[4] == 8 * weighted.diagnosis_weights[5]
    adjusted = Objective.for_run(Config(diagnosis_loss="logit_adjusted"), split)
    assert np.all(adjusted.diagnosis_weights == 1)
    np.testing.assert_allclose(adjusted.diagnosis_offset[[5, 4]], np.log([0.8, 0.1]), rtol=1e-6)
    np.testing.assert_array_equal(adjusted.dx_type_weights, weighted.dx_type_weights)
    # Equal logits: the loss sees the prior, so the rare true class costs more than the common one.
    logits = np.zeros((2, 7), np.float32)
    loss = keras.ops.convert_to_numpy(adjusted.losses()["diagnosis"](np.array([5, 4]), logits))
    np.testing.assert_allclose(loss, -np.log(np.array([0.8, 0.1]) / np.exp(adjusted.diagnosis_offset).sum()), rtol=1e-5)
    with pytest.raises(ValueError, match="unknown diagnosis loss"):
        Objective.for_run(Config(diagnosis_loss="focal"), split)

    # Square-root class sampling draws nv (8 images) and mel (1) in the ratio sqrt(8) : 1; the loss's prior follows.
    sampled = Objective.for_run(Config(diagnosis_loss="logit_adjusted", class_sampling_power=0.5), split)
    prior = np.exp(sampled.diagnosis_offset)
    assert prior[5] / prior[4] == pytest.approx(np.sqrt(8), rel=1e-5)
    assert prior[[0, 4, 5]].sum() == pytest.approx(1.0, rel=1e-5)


def test_average_epoch_weights_sets_the_mean_of_the_epochs(tmp_path):
    import keras

    from inference.training.network import scratch_cnn
    from inference.training.train import average_epoch_weights

    model = scratch_cnn(size=32, width=4, dropout=0.0)
    epochs = []
    for seed in (1, 2, 3):
        keras.utils.set_random_seed(seed)
        weights = [np.random.normal(size=weight.shape).astype(weight.dtype) for weight in model.get_weights()]
        model.set_weights(weights)
        model.save_weights(tmp_path / f"epoch-{seed}.weights.h5")
        epochs.append(weights)
    average_epoch_weights(model, [tmp_path / f"epoch-{seed}.weights.h5" for seed in (1, 2, 3)])
    for index, actual in enumerate(model.get_weights()):
        np.testing.assert_allclose(actual, np.mean([weights[index] for weights in epochs], axis=0), rtol=1e-6)


def test_copy_matching_weights_copies_same_named_layers():
    import keras

    from inference.training.network import scratch_cnn
    from inference.training.train import copy_matching_weights

    keras.utils.set_random_seed(1)
    source = scratch_cnn(size=32, width=4, dropout=0.0)
    keras.utils.set_random_seed(2)
    target = scratch_cnn(size=32, width=4, dropout=0.0)
    assert copy_matching_weights(source, [target]) == len([layer for layer in target.layers if layer.weights])
    for expected, actual in zip(source.get_weights(), target.get_weights(), strict=True):
        np.testing.assert_array_equal(expected, actual)


def test_scratch_cnn_trains_one_epoch(tmp_path, synthetic_dataset):
    data_dir, split_csv = synthetic_dataset
    config = _config(tmp_path, data_dir, split_csv, run="scratch-smoke", arch="scratch", scratch_width=4)
    summary = train(config)
    assert summary["arch"] == "scratch"
    assert len(summary["metrics"]["per_class"]) == len(CLASSES)
    logits = np.load(config.run_dir / "validation_logits.npz")
    assert logits["diagnosis"].shape == (14, len(CLASSES))


def test_command_line_builds_the_config(tmp_path):
    config = parse_config(["--arch", "scratch", "--epochs", "3", "--export-dir", str(tmp_path)])
    assert (config.arch, config.epochs, config.export_dir) == ("scratch", 3, tmp_path)
    assert parse_config([]).export_dir is None
