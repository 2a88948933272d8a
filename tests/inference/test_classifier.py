"""The shipped classifier: loading, predictions on real images, and clear load errors."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from inference import DEFAULT_MODEL_PATH, Classifier, ModelLoadError, Prediction
from inference.serving.labels import CLASSES, DX_TYPES

REPO_DIR = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def classifier() -> Classifier:
    return Classifier.load(DEFAULT_MODEL_PATH)


def test_loads_shipped_model_with_its_metadata(classifier):
    metadata = json.loads(DEFAULT_MODEL_PATH.with_suffix(".json").read_text())
    assert classifier.name == metadata["name"] == "skin-lite0"
    assert classifier.version == metadata["version"]
    assert classifier.sha256 == metadata["files"]["onnx_sha256"]
    assert 0.0 < classifier.metrics["balanced_accuracy"] <= 1.0
    for path in (DEFAULT_MODEL_PATH, DEFAULT_MODEL_PATH.with_name(metadata["files"]["keras"])):
        assert path.stat().st_size <= 25 * 1024 * 1024


def test_predictions_are_calibrated_distributions(classifier, lesion_images):
    predictions = classifier.predict(lesion_images)
    assert len(predictions) == len(lesion_images)
    for prediction in predictions:
        assert isinstance(prediction, Prediction)
        assert tuple(prediction.probabilities) == CLASSES
        assert sum(prediction.probabilities.values()) == pytest.approx(1.0, abs=1e-6)
        assert tuple(prediction.dx_type) == DX_TYPES
        assert sum(prediction.dx_type.values()) == pytest.approx(1.0, abs=1e-6)
        ranked = sorted(prediction.probabilities.items(), key=lambda item: -item[1])
        assert prediction.top == ranked[:2]
        expected_malignancy = sum(prediction.probabilities[name] for name in ("mel", "bcc", "akiec"))
        assert prediction.malignancy == pytest.approx(expected_malignancy)
        assert prediction.model_version == classifier.version
    # A real model does not answer every lesion identically.
    assert (
        len({prediction.top[0][0] for prediction in predictions}) > 1
        or np.ptp([prediction.malignancy for prediction in predictions]) > 0.05
    )


def test_batching_and_input_kinds_do_not_change_results(classifier, lesion_images):
    paths = lesion_images[:5]
    batched = classifier.predict(paths, batch_size=2)
    from_bytes = classifier.predict([path.read_bytes() for path in paths], batch_size=32)
    from_pil = [classifier.predict([Image.open(path)])[0] for path in paths]
    for one, two, three in zip(batched, from_bytes, from_pil, strict=True):
        for name in CLASSES:
            assert one.probabilities[name] == pytest.approx(two.probabilities[name], abs=1e-5)
            assert one.probabilities[name] == pytest.approx(three.probabilities[name], abs=1e-5)


def test_missing_model_file_raises_model_load_error(tmp_path):
    with pytest.raises(ModelLoadError, match="not found"):
        Classifier.load(tmp_path / "absent.onnx")


def test_corrupt_model_file_raises_model_load_error(tmp_path):
    broken = tmp_path / "skin-lite0.onnx"
    broken.write_bytes(b"this is not an ONNX graph")
    shutil.copy(DEFAULT_MODEL_PATH.with_suffix(".json"), broken.with_suffix(".json"))
    with pytest.raises(ModelLoadError, match="could not be loaded"):
        Classifier.load(broken)


def test_missing_or_corrupt_metadata_raises_model_load_error(tmp_path):
    model = tmp_path / "skin-lite0.onnx"
    shutil.copy(DEFAULT_MODEL_PATH, model)
    with pytest.raises(ModelLoadError, match="not found"):
        Classifier.load(model)
    model.with_suffix(".json").write_text("{not json")
    with pytest.raises(ModelLoadError, match="not readable JSON"):
        Classifier.load(model)
    metadata = json.loads(DEFAULT_MODEL_PATH.with_suffix(".json").read_text())
    metadata["classes"] = list(reversed(metadata["classes"]))
    model.with_suffix(".json").write_text(json.dumps(metadata))
    with pytest.raises(ModelLoadError, match="labels"):
        Classifier.load(model)


def test_serving_imports_only_runtime_requirements(lesion_images):
    script = (
        "import sys\n"
        "from inference import Classifier, DEFAULT_MODEL_PATH\n"
        f"Classifier.load(DEFAULT_MODEL_PATH).predict([{str(lesion_images[0])!r}])\n"
        "heavy = sorted(name for name in ('tensorflow', 'keras', 'torch', 'scipy', 'sklearn', 'pandas')\n"
        "               if name in sys.modules)\n"
        "assert not heavy, heavy\n"
    )
    subprocess.run([sys.executable, "-c", script], cwd=REPO_DIR, check=True, timeout=120)
