"""`python -m inference.training.quantize` on a tiny synthetic calibration set, against the shipped float model."""

import json

import numpy as np
import pytest

from tests.conftest import require_training_extra

require_training_extra("onnx")  # onnxruntime.quantization reads and writes the graph with it

import onnx  # noqa: E402

from inference import DEFAULT_MODEL_PATH, Classifier  # noqa: E402
from inference.training import quantize  # noqa: E402
from inference.training.dataset import read_split  # noqa: E402
from inference.training.export import sha256_of  # noqa: E402


def test_calibration_draws_training_photos_only(synthetic_dataset):
    data_dir, split_csv = synthetic_dataset
    paths = quantize.calibration_paths(data_dir=data_dir, split_csv=split_csv, count=10)
    train_ids = set(read_split(split_csv=split_csv, name="train").image_ids)
    assert len(paths) == 10 and len(set(paths)) == 10
    assert {path.stem for path in paths} <= train_ids


def test_quantize_command_writes_an_int8_model_with_its_own_version_and_figures(synthetic_dataset, tmp_path):
    data_dir, split_csv = synthetic_dataset
    out = tmp_path / "skin-lite0-int8.onnx"
    quantize.main(
        ["--out", str(out), "--data-dir", str(data_dir), "--split-csv", str(split_csv), "--calibration-images", "4"]
    )

    float_metadata = json.loads(DEFAULT_MODEL_PATH.with_suffix(".json").read_text())
    metadata = json.loads(out.with_suffix(".json").read_text())
    assert metadata["name"] == "skin-lite0-int8"
    assert metadata["version"] == float_metadata["version"] + "-int8"
    assert metadata["files"] == {"onnx": out.name, "onnx_sha256": sha256_of(out)}
    assert metadata["quantization"]["from"]["onnx_sha256"] == float_metadata["files"]["onnx_sha256"]
    assert metadata["quantization"]["calibration"].startswith("4 training-split photos")
    # Figures measured on the 14 synthetic validation photos, not copied from the float model.
    assert metadata["metrics"]["balanced_accuracy"] != float_metadata["metrics"]["balanced_accuracy"]
    assert 0.0 <= metadata["metrics"]["malignancy_auc"] <= 1.0

    operators = {node.op_type for node in onnx.load(str(out)).graph.node}
    assert {"QuantizeLinear", "DequantizeLinear"} <= operators
    assert out.stat().st_size < DEFAULT_MODEL_PATH.stat().st_size / 3  # int8 weights

    int8, float_model = Classifier.load(out), Classifier.load(DEFAULT_MODEL_PATH)
    assert int8.version.endswith("-int8")
    photos = sorted((data_dir / "images").glob("*.jpg"))[:4]
    int8_malignancy = [prediction.malignancy for prediction in int8.predict(photos)]
    float_malignancy = [prediction.malignancy for prediction in float_model.predict(photos)]
    assert np.allclose(int8_malignancy, float_malignancy, atol=0.1)
    assert int8_malignancy != pytest.approx(float_malignancy, abs=1e-6)  # quantized, not a copy
