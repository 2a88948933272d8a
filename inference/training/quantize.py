"""Quantize the serving classifier to int8: `python -m inference.training.quantize`.

Static quantization with ONNX Runtime: QDQ format, int8 weights per output channel, uint8 activations whose ranges
are calibrated on training-split photos preprocessed exactly as serving does (the validation split stays untouched
for the figures). Writes `skin-lite0-int8.onnx` beside the float model and its metadata JSON, with a version of its
own (`<float version>-int8`) and the validation figures measured on the int8 file itself. It is not the served model:
activating it is the lead's decision, with the model card updated then (bench/bench_quantized.py and
docs/performance.md compare it with the float model).
"""

from __future__ import annotations

import argparse
import json
import logging
import tempfile
from pathlib import Path

import numpy as np

from inference.paths import ARTIFACTS_DIR, DEFAULT_DATA_DIR, DEFAULT_MODEL_PATH, SPLIT_CSV
from inference.serving.calibration import softmax
from inference.serving.classifier import Classifier
from inference.serving.labels import DX_TYPES
from inference.serving.preprocessing import preprocess
from inference.training import dataset
from inference.training.evaluate import validation_logits
from inference.training.export import sha256_of
from inference.training.metrics import balanced_accuracy, diagnosis_metrics

log = logging.getLogger("inference.training.quantize")

INT8_SUFFIX = "-int8"
DEFAULT_INT8_PATH = ARTIFACTS_DIR / f"{DEFAULT_MODEL_PATH.stem}{INT8_SUFFIX}.onnx"
CALIBRATION_IMAGES = 200


def calibration_paths(*, data_dir: Path, split_csv: Path, count: int, seed: int = 0) -> list[Path]:
    """`count` training-split photos drawn at random (the class mix of the training split, mostly nv)."""
    image_ids = dataset.read_split(split_csv=split_csv, name="train").image_ids
    chosen = np.random.default_rng(seed).choice(len(image_ids), size=min(count, len(image_ids)), replace=False)
    return [data_dir / "images" / f"{image_ids[index]}.jpg" for index in sorted(chosen)]


def validation_paths(*, data_dir: Path, split_csv: Path) -> tuple[list[Path], dataset.Split]:
    split = dataset.read_split(split_csv=split_csv, name="validation")
    return [data_dir / "images" / f"{image_id}.jpg" for image_id in split.image_ids], split


def quantize_classifier(*, model_path: Path, out_path: Path, calibration: list[Path]) -> Path:
    """Write the static int8 (QDQ, per-channel) copy of the ONNX classifier at `model_path` to `out_path`."""
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    size = int(json.loads(model_path.with_suffix(".json").read_text())["input"]["size"])

    class TrainingPhotos(CalibrationDataReader):
        def __init__(self):
            self._paths = iter(calibration)

        def get_next(self) -> dict | None:
            path = next(self._paths, None)
            return None if path is None else {"image": preprocess(path, size=size)[None]}

    with tempfile.TemporaryDirectory() as scratch:
        # Shape inference and constant folding first, as ONNX Runtime advises: quantization needs every shape.
        prepared = Path(scratch) / "prepared.onnx"
        quant_pre_process(str(model_path), str(prepared))
        quantize_static(
            str(prepared),
            str(out_path),
            TrainingPhotos(),
            quant_format=QuantFormat.QDQ,
            per_channel=True,
            activation_type=QuantType.QUInt8,
            weight_type=QuantType.QInt8,
        )
    return out_path


def validation_figures(logits: dict[str, np.ndarray], *, split: dataset.Split, temperature: dict) -> dict:
    """The model card's headline figures for validation-split logits, calibrated with `temperature`."""
    figures = diagnosis_metrics(softmax(logits["diagnosis"], temperature=temperature["diagnosis"]), split.diagnosis)
    figures.pop("confusion_matrix")
    figures["dx_type_balanced_accuracy"] = balanced_accuracy(
        softmax(logits["dx_type"], temperature=temperature["dx_type"]), split.dx_type, names=DX_TYPES
    )
    return figures


def int8_metadata(*, float_path: Path, int8_path: Path, figures: dict, calibration_count: int) -> dict:
    """The float model's metadata with the int8 file's name, version, hash and validation figures.

    The temperatures stay the float model's: they were fitted on the validation split, and refitting them on the
    int8 logits would tune on it again.
    """
    metadata = json.loads(float_path.with_suffix(".json").read_text())
    float_files = metadata["files"]
    metadata.update(
        name=int8_path.stem,
        version=f"{metadata['version']}{INT8_SUFFIX}",
        metrics=figures,
        files={"onnx": int8_path.name, "onnx_sha256": sha256_of(int8_path)},
        quantization={
            "method": "onnxruntime static quantization, QDQ, int8 weights per channel, uint8 activations",
            "calibration": f"{calibration_count} training-split photos, serving preprocessing",
            "from": {
                "version": metadata["version"],
                "onnx": float_files["onnx"],
                "onnx_sha256": float_files["onnx_sha256"],
            },
        },
    )
    metadata["input"]["dtype"] = "float32 (quantized inside the graph)"
    return metadata


def write_metadata(metadata: dict, *, int8_path: Path) -> None:
    int8_path.with_suffix(".json").write_text(json.dumps(metadata, indent=2) + "\n")


def quantize(
    *, model_path: Path, out_path: Path, data_dir: Path, split_csv: Path, calibration_count: int, seed: int = 0
) -> dict:
    """Quantize, then measure the int8 file on the validation split; returns its metadata."""
    calibration = calibration_paths(data_dir=data_dir, split_csv=split_csv, count=calibration_count, seed=seed)
    log.info("calibrating on %d training photos", len(calibration))
    quantize_classifier(model_path=model_path, out_path=out_path, calibration=calibration)
    # Classifier.load reads the metadata beside the file: write it first, then again with the figures.
    metadata = int8_metadata(float_path=model_path, int8_path=out_path, figures={}, calibration_count=len(calibration))
    write_metadata(metadata, int8_path=out_path)
    paths, split = validation_paths(data_dir=data_dir, split_csv=split_csv)
    logits = validation_logits(Classifier.load(out_path), paths)
    metadata["metrics"] = validation_figures(logits, split=split, temperature=metadata["temperature"])
    write_metadata(metadata, int8_path=out_path)
    headline = {key: value for key, value in metadata["metrics"].items() if isinstance(value, float)}
    log.info("wrote %s: %s", out_path, headline)
    return metadata


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL_PATH)
    parser.add_argument("--out", type=Path, default=DEFAULT_INT8_PATH)
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR)
    parser.add_argument("--split-csv", type=Path, default=SPLIT_CSV)
    parser.add_argument("--calibration-images", type=int, default=CALIBRATION_IMAGES)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    quantize(
        model_path=args.model,
        out_path=args.out,
        data_dir=args.data_dir,
        split_csv=args.split_csv,
        calibration_count=args.calibration_images,
        seed=args.seed,
    )


if __name__ == "__main__":
    main()
