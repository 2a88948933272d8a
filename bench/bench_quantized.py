"""Float against int8 classifier, side by side in one run: per-photo latency, validation accuracy, the gate's cost.

    python bench/bench_quantized.py [--photos 200] [--rounds 1]

Latency: `Classifier.predict([jpeg bytes])` at batch 1 (decode, preprocessing and the model: what the worker does
per upload) on validation photos, the variants alternating photo by photo so that the machine's drift (2-4x minute
to minute on shared cores) falls on all of them alike; medians and ratios to the served configuration (float,
1 thread, SKINTRACK_MODEL_THREADS' default). Variants: the float model with ONNX Runtime's basic graph optimisation
instead of all, 2 threads, dynamic int8 (weights only), and the static int8 model (inference.training.quantize)
at 1 and 2 threads.
Accuracy: the whole validation split through float and static int8, with the float model's temperatures.
Gate: `check_photo` on the same photos, median and where its time goes.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import pstats
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

import numpy as np

REPO_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_DIR))

from inference import DEFAULT_MODEL_PATH, Classifier  # noqa: E402
from inference.analysis.gate import check_photo  # noqa: E402
from inference.paths import DEFAULT_DATA_DIR, SPLIT_CSV  # noqa: E402
from inference.serving.labels import CLASSES  # noqa: E402
from inference.serving.preprocessing import preprocess  # noqa: E402
from inference.training.evaluate import validation_logits  # noqa: E402
from inference.training.quantize import (  # noqa: E402
    DEFAULT_INT8_PATH,
    quantize,
    validation_figures,
    validation_paths,
)

SERVED = "float, all graph optimisations, 1 thread (served)"
PREPROCESSING = "decode + preprocessing alone (in every row above)"


def _session(path: Path, *, threads: int, basic_optimisation: bool = False):
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")  # as Classifier.load
    options.intra_op_num_threads = threads
    if basic_optimisation:
        options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_BASIC
    return onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def _variant(onnx_path: Path, *, metadata_path: Path, threads: int, basic_optimisation: bool = False) -> Classifier:
    """A Classifier over `onnx_path` with its own session options (Classifier.load exposes threads only)."""
    return Classifier(
        session=_session(onnx_path, threads=threads, basic_optimisation=basic_optimisation),
        metadata=json.loads(metadata_path.read_text()),
        sha256="",
        path=onnx_path,
    )


def variants(float_path: Path, int8_path: Path, dynamic_path: Path) -> dict[str, Classifier]:
    float_metadata, int8_metadata = float_path.with_suffix(".json"), int8_path.with_suffix(".json")
    return {
        SERVED: Classifier.load(float_path, threads=1),
        "float, basic graph optimisation, 1 thread": _variant(
            float_path, metadata_path=float_metadata, threads=1, basic_optimisation=True
        ),
        "float, 2 threads": Classifier.load(float_path, threads=2),
        "dynamic int8 (weights only), 1 thread": _variant(dynamic_path, metadata_path=float_metadata, threads=1),
        "static int8, 1 thread": Classifier.load(int8_path, threads=1),
        "static int8, 2 threads": _variant(int8_path, metadata_path=int8_metadata, threads=2),
    }


def latencies(work: dict[str, Callable[[bytes], object]], jpegs: list[bytes], *, rounds: int) -> dict[str, list]:
    timings = {name: [] for name in work}
    for run in work.values():
        run(jpegs[0])  # warm-up: the first run allocates
    order = list(work)
    for _ in range(rounds):
        for index, jpeg in enumerate(jpegs):
            # Rotate who goes first, so that none always runs right after a cache-cold start.
            for name in order[index % len(order) :] + order[: index % len(order)]:
                start = time.perf_counter()
                work[name](jpeg)
                timings[name].append(time.perf_counter() - start)
    return timings


def _predict_one(classifier: Classifier, jpeg: bytes):
    return classifier.predict([jpeg], batch_size=1)


def gate_profile(jpegs: list[bytes]) -> tuple[float, str]:
    timings = []
    profile = cProfile.Profile()
    for jpeg in jpegs:
        start = time.perf_counter()
        check_photo(jpeg)
        timings.append(time.perf_counter() - start)
    profile.enable()
    for jpeg in jpegs:
        check_photo(jpeg)
    profile.disable()
    report = io.StringIO()
    pstats.Stats(profile, stream=report).sort_stats("tottime").print_stats(8)
    return statistics.median(timings), report.getvalue()


def figures_of(key: str) -> Callable[[dict], float]:
    return lambda figures: figures[key]


def recall_of(name: str) -> Callable[[dict], float]:
    return lambda figures: figures["per_class"][name]["sensitivity"]


def accuracy(float_model: Classifier, int8_model: Classifier, *, data_dir: Path, split_csv: Path) -> None:
    paths, split = validation_paths(data_dir=data_dir, split_csv=split_csv)
    temperature = json.loads(float_model.path.with_suffix(".json").read_text())["temperature"]
    logits = {"float": validation_logits(float_model, paths), "int8": validation_logits(int8_model, paths)}
    figures = {name: validation_figures(value, split=split, temperature=temperature) for name, value in logits.items()}
    agreement = (logits["float"]["diagnosis"].argmax(1) == logits["int8"]["diagnosis"].argmax(1)).mean()
    print(f"\nvalidation split, {len(paths)} photos; top-1 agreement float/int8: {agreement:.2%}")
    print(f"{'figure':<40} {'float':>8} {'int8':>8} {'int8 - float':>13}")
    headline = ("balanced_accuracy", "accuracy", "malignancy_auc", "melanoma_auc", "macro_auc", "ece")
    rows = {key: figures_of(key) for key in headline}
    rows.update({f"recall {name}": recall_of(name) for name in CLASSES})
    for label, read in rows.items():
        before, after = read(figures["float"]), read(figures["int8"])
        print(f"{label:<40} {before:>8.4f} {after:>8.4f} {after - before:>+13.4f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL_PATH)
    parser.add_argument("--int8", type=Path, default=DEFAULT_INT8_PATH, help="quantized here when missing")
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR)
    parser.add_argument("--split-csv", type=Path, default=SPLIT_CSV)
    parser.add_argument("--photos", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=1, help="passes over the photos, each timing every variant")
    args = parser.parse_args()
    from onnxruntime.quantization import QuantType, quantize_dynamic

    print("uptime:", subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip())
    with tempfile.TemporaryDirectory() as scratch:
        if not args.int8.is_file():
            args.int8 = Path(scratch) / args.int8.name
            quantize(
                model_path=args.model,
                out_path=args.int8,
                data_dir=args.data_dir,
                split_csv=args.split_csv,
                calibration_count=200,
            )
        dynamic_path = Path(scratch) / "dynamic.onnx"
        quantize_dynamic(str(args.model), str(dynamic_path), weight_type=QuantType.QInt8)
        classifiers = variants(args.model, args.int8, dynamic_path)

        paths, _ = validation_paths(data_dir=args.data_dir, split_csv=args.split_csv)
        jpegs = [path.read_bytes() for path in paths[: args.photos]]
        size = classifiers[SERVED].input_size
        work = {name: partial(_predict_one, classifier) for name, classifier in classifiers.items()}
        work[PREPROCESSING] = partial(preprocess, size=size)
        timings = latencies(work, jpegs, rounds=args.rounds)
    served = statistics.median(timings[SERVED])
    print(f"\nper-photo latency, predict([jpeg]) at batch 1, {len(jpegs)} validation photos x {args.rounds} round(s)")
    print(f"{'variant':<52} {'median ms':>10} {'p90 ms':>8} {'speed-up':>9}")
    for name, values in timings.items():
        median, p90 = statistics.median(values), float(np.percentile(values, 90))
        speed_up = "" if name == PREPROCESSING else f"{served / median:>8.2f}x"
        print(f"{name:<52} {median * 1000:>10.2f} {p90 * 1000:>8.2f} {speed_up:>9}")

    int8_model = classifiers["static int8, 1 thread"]
    accuracy(classifiers[SERVED], int8_model, data_dir=args.data_dir, split_csv=args.split_csv)

    gate_median, gate_report = gate_profile(jpegs)
    print(f"\nphoto gate (check_photo on the jpeg bytes): median {gate_median * 1000:.2f} ms over {len(jpegs)} photos")
    print(gate_report)
    print("uptime:", subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip())


if __name__ == "__main__":
    main()
