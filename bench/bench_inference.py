"""Classifier runtimes side by side: per-image latency and batch-32 throughput, medians.

    python bench/bench_inference.py [--threads 2] [--repeats 5]

Every figure includes JPEG decoding and `inference.serving.preprocessing.preprocess` (what the worker
does per upload), on real HAM10000 validation images. Runtimes: Keras `model.predict` called per
image (the naive baseline), a `tf.function`, ONNX Runtime (the shipped serving path) and TFLite.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

REPO_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_DIR))

from inference import DEFAULT_MODEL_PATH, Classifier  # noqa: E402
from inference.paths import DEFAULT_DATA_DIR  # noqa: E402
from inference.serving.preprocessing import preprocess  # noqa: E402
from inference.training.dataset import read_split  # noqa: E402

BATCH = 32


def _median_seconds(work, *, repeats: int) -> float:
    work()  # warm-up: first calls allocate and compile
    timings = []
    for _ in range(repeats):
        start = time.perf_counter()
        work()
        timings.append(time.perf_counter() - start)
    return statistics.median(timings)


def _tensorflow_runtimes(keras_path: Path, size: int, threads: int) -> dict:
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    import keras

    model = keras.saving.load_model(keras_path, compile=False)
    compiled = tf.function(lambda batch: model(batch, training=False), reduce_retracing=True)
    runtimes = {
        "keras model.predict": lambda batch: model.predict(batch, verbose=0),
        "tf.function": lambda batch: compiled(tf.constant(batch)),
    }
    try:
        spec = tf.TensorSpec((None, size, size, 3), tf.float32)
        concrete = tf.function(lambda image: model(image, training=False)).get_concrete_function(spec)
        converter = tf.lite.TFLiteConverter.from_concrete_functions([concrete], model)
        interpreter = tf.lite.Interpreter(model_content=converter.convert(), num_threads=threads)

        def tflite(batch):
            interpreter.resize_tensor_input(interpreter.get_input_details()[0]["index"], batch.shape)
            interpreter.allocate_tensors()
            interpreter.set_tensor(interpreter.get_input_details()[0]["index"], batch)
            interpreter.invoke()
            return [interpreter.get_tensor(detail["index"]) for detail in interpreter.get_output_details()]

        runtimes["tflite"] = tflite
    except Exception as error:  # the converter is optional here; report why it is missing
        print(f"tflite skipped: {type(error).__name__}: {error}", file=sys.stderr)
    return runtimes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL_PATH)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--singles", type=int, default=20, help="images timed one at a time per repeat")
    parser.add_argument("--skip-tensorflow", action="store_true")
    args = parser.parse_args()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

    classifier = Classifier.load(args.model, threads=args.threads)
    size = classifier.input_size
    image_ids = read_split(name="validation").image_ids[:BATCH]
    jpegs = [(DEFAULT_DATA_DIR / "images" / f"{image_id}.jpg").read_bytes() for image_id in image_ids]

    def decode(images):
        return np.stack([preprocess(image, size=size) for image in images])

    runtimes = {"onnxruntime (shipped)": classifier.logits}
    if not args.skip_tensorflow:
        keras_path = args.model.with_name(json.loads(args.model.with_suffix(".json").read_text())["files"]["keras"])
        runtimes.update(_tensorflow_runtimes(keras_path, size, args.threads))

    preprocess_s = _median_seconds(lambda: decode(jpegs), repeats=args.repeats) / BATCH
    print(
        f"model {classifier.name} {classifier.version}, input {size}x{size}, {args.threads} threads, "
        f"medians of {args.repeats} runs; decode+preprocess alone: {preprocess_s * 1000:.2f} ms/img"
    )
    print(f"{'runtime':<24} {'per-image latency (ms)':>24} {'batch-32 throughput (img/s)':>28}")
    for name, run in runtimes.items():
        singles = jpegs[: args.singles]
        latency = _median_seconds(
            lambda run=run, singles=singles: [run(decode([jpeg])) for jpeg in singles], repeats=args.repeats
        ) / len(singles)
        batch_seconds = _median_seconds(lambda run=run: run(decode(jpegs)), repeats=args.repeats)
        print(f"{name:<24} {latency * 1000:>24.2f} {BATCH / batch_seconds:>28.1f}", flush=True)


if __name__ == "__main__":
    main()
