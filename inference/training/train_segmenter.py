"""Train the learned lesion segmenter on the HAM10000 masks: `python -m inference.training.train_segmenter`.

Training/export only (imports Keras); the worker runs the exported ONNX graph (`inference.analysis.learned_segmenter`).

Encoder: EfficientNet-Lite0's ImageNet blocks 0-10 (ported from PyPI's PyTorch state dict, pixels in [-1, 1]).
The blocks below --tune-blocks-from (5 by default) are frozen, so their activations are computed once per training
image and its mirror image and cached on disk (var/cache/); blocks 5-10 train with the decoder, their batch-norm
statistics kept, and run at strides 8 and 16 only, cheap enough for a CPU (about 10 minutes an epoch on 2 cores).
Decoder: a small upsampling path with skip connections at strides 4, 8 and 16, trained with cross-entropy plus Dice
loss on the training split only, for a fixed number of epochs (no epoch is picked on the validation split). Every
epoch is checkpointed and a stopped run resumes where it stopped. The result is exported to ONNX (encoder and
decoder in one graph, lesion probability out) for ONNX Runtime on CPU; measure it with
`python -m inference.training.segmentation_eval`.

The shipped segmenter is this command's defaults (3 epochs, blocks 5-10 tuned): validation mean Jaccard 0.887,
against 0.870 for the earlier 2 epochs with the whole encoder frozen. Its settings were fixed before it ran; it was
the one run of them.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import json
import logging
import math
from pathlib import Path

import keras
import numpy as np
from PIL import Image

from inference.paths import ARTIFACTS_DIR, CACHE_DIR, DEFAULT_DATA_DIR, RUNS_DIR, SPLIT_CSV
from inference.serving.preprocessing import PIXEL_OFFSET, PIXEL_SCALE, normalise
from inference.training.export import ONNX_OPSET, sha256_of

log = logging.getLogger("inference.training.train_segmenter")

SERVING_NAME = "lesion-segmenter"
# Output of blocks 2, 4 and 10: strides 4, 8 and 16 (24, 40 and 112 channels).
ENCODER_TAPS = (2, 4, 10)
MASK_THRESHOLD = 128  # HAM10000 masks: lesion where the 8-bit value is >= 128


@dataclasses.dataclass(frozen=True)
class Config:
    run: str = "segmenter"
    # Landscape input (width, height): the 4:3 HAM10000 frame; portrait photos are turned for the model.
    width: int = 192
    height: int = 144
    epochs: int = 3
    batch_size: int = 32
    learning_rate: float = 1e-3
    decoder_width: int = 32
    dice_weight: float = 1.0
    limit: int = 0  # only the first N training images: a smoke run
    # Lite0 blocks from this one to the last tap train with the decoder; None: the whole encoder stays frozen.
    tune_blocks_from: int | None = 5
    seed: int = 0
    threads: int = 2
    data_dir: Path = DEFAULT_DATA_DIR
    split_csv: Path = SPLIT_CSV
    cache_dir: Path = CACHE_DIR
    runs_dir: Path = RUNS_DIR
    export_dir: Path = ARTIFACTS_DIR

    @property
    def run_dir(self) -> Path:
        return self.runs_dir / self.run


def training_image_ids(split_csv: Path) -> list[str]:
    with open(split_csv, newline="") as handle:
        return [row["image_id"] for row in csv.DictReader(handle) if row["split"] == "train"]


def model_pixels(image: Image.Image, *, width: int, height: int) -> np.ndarray:
    """uint8 (height, width, 3): the photo resized to the model's frame. Serving does the same (no TensorFlow)."""
    return np.asarray(image.convert("RGB").resize((width, height), Image.Resampling.BILINEAR), dtype=np.uint8)


def _load_pair(config: Config, image_id: str) -> tuple[np.ndarray, np.ndarray]:
    pixels = model_pixels(
        Image.open(config.data_dir / "images" / f"{image_id}.jpg"), width=config.width, height=config.height
    )
    mask = Image.open(config.data_dir / "masks" / f"{image_id}_segmentation.png").convert("L")
    mask = np.asarray(mask.resize((config.width, config.height), Image.Resampling.BILINEAR)) >= MASK_THRESHOLD
    return pixels, mask


# --- frozen encoder and its cache ----------------------------------------------------------


def cached_taps(config: Config) -> tuple[int, ...]:
    """The frozen encoder's blocks whose outputs are cached: the skip taps below the tuned blocks, and the input of
    the first tuned block."""
    if config.tune_blocks_from is None:
        return ENCODER_TAPS
    return tuple(sorted({tap for tap in ENCODER_TAPS if tap < config.tune_blocks_from} | {config.tune_blocks_from - 1}))


def build_encoder(config: Config):
    from inference.training import lite0

    encoder = lite0.multiscale_encoder(height=config.height, width=config.width, taps=cached_taps(config))
    ported = lite0.port_imagenet_weights([encoder], lite0.load_state_dict())
    log.info("encoder: %d Lite0 conv layers set from the ImageNet weights", ported)
    encoder.trainable = False
    return encoder


def _cache_folder(config: Config) -> Path:
    images = f"-first{config.limit}" if config.limit else ""
    taps = "-".join(map(str, cached_taps(config)))
    return config.cache_dir / f"segmenter-{config.width}x{config.height}-taps{taps}{images}"


def cached_training_set(config: Config, encoder, image_ids: list[str]) -> tuple[list[np.ndarray], np.ndarray]:
    """The frozen encoder's activations (float16, one memory-mapped array per stride) and the masks (uint8) for
    every training image followed by every mirrored training image. Built once; a stop mid-build starts over."""
    folder = _cache_folder(config)
    names = [f"features-s{index}.npy" for index in range(len(cached_taps(config)))] + ["masks.npy"]
    if not (folder / "complete").exists():
        _build_cache(config, encoder, image_ids, folder, names)
    *features, masks = (np.load(folder / name, mmap_mode="r") for name in names)
    return features, masks


def _keras_to_onnx(model, *, output_names: list[str]) -> bytes:
    """One ONNX graph for a Keras model with a single NHWC image input; outputs renamed to `output_names`."""
    import tensorflow as tf
    import tf2onnx

    signature = (tf.TensorSpec((None, *model.input_shape[1:]), tf.float32, name="image"),)

    @tf.function(input_signature=signature)
    def serve(image):
        outputs = model(image, training=False)
        outputs = outputs if isinstance(outputs, list) else [outputs]
        return [tf.identity(output, name=name) for output, name in zip(outputs, output_names, strict=True)]

    proto, _ = tf2onnx.convert.from_function(serve, input_signature=signature, opset=ONNX_OPSET)
    renamed = dict(zip([output.name for output in proto.graph.output], output_names, strict=True))
    for node in proto.graph.node:
        node.output[:] = [renamed.get(name, name) for name in node.output]
    for output in proto.graph.output:
        output.name = renamed[output.name]
    return proto.SerializeToString()


def _build_cache(config: Config, encoder, image_ids: list[str], folder: Path, names: list[str]) -> None:
    """The activations come from the encoder exported to ONNX Runtime, as the worker will run it (and several
    times faster than Keras on CPU)."""
    import onnxruntime

    folder.mkdir(parents=True, exist_ok=True)
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = config.threads
    session = onnxruntime.InferenceSession(
        _keras_to_onnx(encoder, output_names=names[:-1]), options, providers=["CPUExecutionProvider"]
    )
    count = 2 * len(image_ids)
    shapes = [tuple(output.shape[1:]) for output in encoder.outputs]
    arrays = [
        np.lib.format.open_memmap(folder / name, mode="w+", dtype=np.float16, shape=(count, *shape))
        for name, shape in zip(names, shapes, strict=False)
    ]
    masks = np.lib.format.open_memmap(
        folder / names[-1], mode="w+", dtype=np.uint8, shape=(count, config.height, config.width)
    )
    chunk = 64
    for start in range(0, len(image_ids), chunk):
        loaded = [_load_pair(config, image_id) for image_id in image_ids[start : start + chunk]]
        pixels = np.stack([item[0] for item in loaded])
        chunk_masks = np.stack([item[1] for item in loaded])
        stop = start + len(loaded)
        for offset, view_pixels, view_masks in (
            (0, pixels, chunk_masks),
            (len(image_ids), pixels[:, :, ::-1], chunk_masks[:, :, ::-1]),
        ):
            outputs = session.run(None, {"image": normalise(np.ascontiguousarray(view_pixels))})
            for array, output in zip(arrays, outputs, strict=True):
                array[offset + start : offset + stop] = output.astype(np.float16)
            masks[offset + start : offset + stop] = view_masks
        if stop % 1024 < chunk:
            log.info("cached encoder activations: %d / %d images", stop, len(image_ids))
    for array in (*arrays, masks):
        array.flush()
    (folder / "complete").write_text(json.dumps({"images": len(image_ids), "views": ["plain", "mirrored"]}))


# --- decoder ---------------------------------------------------------------------------------


def build_decoder(config: Config, feature_shapes: list[tuple[int, ...]]):
    """The cached encoder outputs -> lesion logits at the input resolution: the tuned Lite0 blocks where some train
    (ImageNet weights, batch-norm statistics kept), then the upsampling path from strides 16, 8 and 4."""
    from keras import layers

    from inference.training import lite0

    def conv(x, filters, name):
        x = layers.Conv2D(filters, 3, padding="same", use_bias=False, name=f"{name}_conv")(x)
        x = layers.BatchNormalization(name=f"{name}_bn")(x)
        return layers.ReLU(name=f"{name}_relu")(x)

    taps = cached_taps(config)
    inputs = [keras.Input(shape, name=f"block{tap}_output") for tap, shape in zip(taps, feature_shapes, strict=True)]
    features = dict(zip(taps, inputs, strict=True))
    if config.tune_blocks_from is not None:
        x = features[config.tune_blocks_from - 1]
        for index in range(config.tune_blocks_from, max(ENCODER_TAPS) + 1):
            x = features[index] = lite0.block(x, index=index, spec=lite0.BLOCKS[index])
    stride4, stride8, stride16 = (features[tap] for tap in ENCODER_TAPS)
    width = config.decoder_width
    x = conv(stride16, width, "s16_a")
    x = conv(x, width, "s16_b")
    x = layers.UpSampling2D(2, interpolation="bilinear", name="up_8")(x)
    x = conv(layers.Concatenate(name="skip_8")([x, stride8]), width, "s8_a")
    x = conv(x, width, "s8_b")
    x = layers.UpSampling2D(2, interpolation="bilinear", name="up_4")(x)
    x = conv(layers.Concatenate(name="skip_4")([x, stride4]), width // 2, "s4_a")
    x = conv(x, width // 2, "s4_b")
    x = layers.Conv2D(1, 1, name="lesion_logit")(x)
    logits = layers.UpSampling2D(4, interpolation="bilinear", name="up_full")(x)
    decoder = keras.Model(inputs, logits, name="lesion_decoder")
    if config.tune_blocks_from is not None:
        lite0.port_imagenet_weights([decoder], lite0.load_state_dict())
        for layer in decoder.layers:
            if isinstance(layer, layers.BatchNormalization) and layer.name.startswith("block"):
                layer.trainable = False  # a batch of 32 lesion photos would skew ImageNet's statistics
    return decoder


def cross_entropy_dice_loss(dice_weight: float):
    from keras import ops

    def loss(masks, logits):
        cross_entropy = ops.mean(keras.losses.binary_crossentropy(masks, logits, from_logits=True), axis=(1, 2))
        probability = ops.sigmoid(logits)
        overlap = ops.sum(probability * masks, axis=(1, 2, 3))
        total = ops.sum(probability, axis=(1, 2, 3)) + ops.sum(masks, axis=(1, 2, 3))
        dice = 1 - (2 * overlap + 1) / (total + 1)
        return cross_entropy + dice_weight * dice

    return loss


def _batches(config: Config, features: list[np.ndarray], masks: np.ndarray):
    class CachedBatches(keras.utils.PyDataset):
        def __init__(self):
            super().__init__()
            self.epoch = 0
            self._shuffle()

        def _shuffle(self):
            # Sorted rows within a batch read the memory-mapped cache in order.
            self.order = np.random.default_rng([config.seed, self.epoch]).permutation(len(masks))

        def __len__(self):
            return math.ceil(len(self.order) / config.batch_size)

        def __getitem__(self, index):
            rows = np.sort(self.order[index * config.batch_size : (index + 1) * config.batch_size])
            inputs = tuple(np.asarray(array[rows], dtype=np.float32) for array in features)
            return inputs, np.asarray(masks[rows], dtype=np.float32)[..., None]

        def on_epoch_end(self):
            self.epoch += 1
            self._shuffle()

    return CachedBatches()


class ProgressLog(keras.callbacks.Callback):
    """A line in the log every few batches, so a long epoch on a busy machine shows its pace."""

    def __init__(self, *, every: int):
        super().__init__()
        self.every = every

    def on_train_batch_end(self, batch, logs=None):
        if (batch + 1) % self.every == 0:
            log.info("batch %d: loss %.4f", batch + 1, (logs or {}).get("loss", float("nan")))


def train(config: Config) -> Path:
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(config.threads)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    keras.utils.set_random_seed(config.seed)
    config.run_dir.mkdir(parents=True, exist_ok=True)
    (config.run_dir / "config.json").write_text(json.dumps(dataclasses.asdict(config), indent=2, default=str))

    encoder = build_encoder(config)
    image_ids = training_image_ids(config.split_csv)[: config.limit or None]
    features, masks = cached_training_set(config, encoder, image_ids)
    decoder = build_decoder(config, [array.shape[1:] for array in features])
    batches = _batches(config, features, masks)
    schedule = keras.optimizers.schedules.CosineDecay(config.learning_rate, config.epochs * len(batches))
    decoder.compile(optimizer=keras.optimizers.Adam(schedule), loss=cross_entropy_dice_loss(config.dice_weight))
    decoder.fit(
        batches,
        epochs=config.epochs,
        verbose=2,
        callbacks=[
            keras.callbacks.CSVLogger(config.run_dir / "history.csv", append=True),
            keras.callbacks.BackupAndRestore(config.run_dir / "backup"),
            ProgressLog(every=50),
        ],
    )
    decoder.save_weights(config.run_dir / "decoder.weights.h5")
    return export(config, encoder, decoder, training_images=len(image_ids))


def architecture(config: Config) -> str:
    tuned = config.tune_blocks_from
    blocks = (
        "EfficientNet-Lite0 ImageNet blocks 0-10 (frozen)"
        if tuned is None
        else f"EfficientNet-Lite0 ImageNet blocks 0-{tuned - 1} (frozen) and {tuned}-10 (fine-tuned, batch-norm "
        "statistics kept)"
    )
    return f"{blocks} + upsampling decoder with skip connections at strides 4, 8 and 16"


def serving_model(encoder, decoder):
    """Image in [-1, 1] -> lesion probability, one graph for export."""
    image = keras.Input(encoder.input_shape[1:], name="image")
    probability = keras.layers.Activation("sigmoid", name="lesion_probability")(decoder(encoder(image)))
    return keras.Model(image, probability, name="lesion_segmenter")


def export(config: Config, encoder, decoder, *, training_images: int) -> Path:
    onnx_bytes = _keras_to_onnx(serving_model(encoder, decoder), output_names=["lesion_probability"])
    config.export_dir.mkdir(parents=True, exist_ok=True)
    onnx_path = config.export_dir / f"{SERVING_NAME}.onnx"
    onnx_path.write_bytes(onnx_bytes)
    history = list(csv.DictReader((config.run_dir / "history.csv").open()))
    metadata = {
        "name": SERVING_NAME,
        "architecture": architecture(config),
        "input": {
            "width": config.width,
            "height": config.height,
            "layout": "NHWC",
            "dtype": "float32",
            "framing": "whole photo resized (bilinear); portrait photos turned to landscape",
            "scaling": f"(pixel - {PIXEL_OFFSET:g}) / {PIXEL_SCALE:g}",
        },
        "output": "lesion_probability (N, height, width, 1); lesion where >= 0.5",
        "training": {
            "split": "train (inference/splits/ham10000_split.csv, lesion-grouped)",
            "images": training_images,
            "views": "each image and its mirror image",
            "loss": "binary cross-entropy + Dice",
            "epochs": config.epochs,
            "final_training_loss": float(history[-1]["loss"]) if history else None,
            "config": {key: str(value) for key, value in dataclasses.asdict(config).items()},
        },
        "files": {"onnx": onnx_path.name, "onnx_sha256": sha256_of(onnx_path)},
        "licence": "CC BY-NC 4.0 (inherited from the HAM10000 masks)",
    }
    onnx_path.with_suffix(".json").write_text(json.dumps(metadata, indent=2) + "\n")
    log.info("exported %s", onnx_path)
    return onnx_path


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    defaults = Config()
    parser.add_argument("--run", default=defaults.run)
    parser.add_argument("--epochs", type=int, default=defaults.epochs)
    parser.add_argument("--batch-size", type=int, default=defaults.batch_size)
    parser.add_argument("--learning-rate", type=float, default=defaults.learning_rate)
    parser.add_argument("--limit", type=int, default=0, help="only the first N training images (a smoke run)")
    parser.add_argument("--cache-dir", type=Path, default=defaults.cache_dir)
    parser.add_argument("--export-dir", type=Path, default=defaults.export_dir)
    parser.add_argument(
        "--tune-blocks-from",
        type=int,
        choices=range(1, max(ENCODER_TAPS) + 1),
        default=defaults.tune_blocks_from,
        help="Lite0 blocks N-10 train too",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    config = Config(
        run=args.run,
        epochs=args.epochs,
        batch_size=args.batch_size,
        learning_rate=args.learning_rate,
        limit=args.limit,
        cache_dir=args.cache_dir,
        export_dir=args.export_dir,
        tune_blocks_from=args.tune_blocks_from,
    )
    train(config)


if __name__ == "__main__":
    main()
