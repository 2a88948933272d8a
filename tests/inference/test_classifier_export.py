"""The ONNX serving file computes what the Keras model computes."""

import json

import numpy as np

from tests.conftest import require_training_extra

require_training_extra("tensorflow")
require_training_extra("tf2onnx")

from inference import DEFAULT_MODEL_PATH, Classifier  # noqa: E402
from inference.serving.calibration import softmax  # noqa: E402
from inference.serving.preprocessing import preprocess  # noqa: E402


def _keras_probabilities(model, batch: np.ndarray, temperature: dict) -> dict[str, np.ndarray]:
    logits = model(batch, training=False)
    return {name: softmax(np.asarray(logits[name]), temperature=temperature[name]) for name in temperature}


def _onnx_probabilities(classifier: Classifier, batch: np.ndarray, temperature: dict) -> dict[str, np.ndarray]:
    logits = classifier.logits(batch)
    return {name: softmax(logits[name], temperature=temperature[name]) for name in temperature}


def test_shipped_onnx_matches_shipped_keras(lesion_images):
    import keras

    metadata = json.loads(DEFAULT_MODEL_PATH.with_suffix(".json").read_text())
    keras_model = keras.saving.load_model(DEFAULT_MODEL_PATH.with_name(metadata["files"]["keras"]), compile=False)
    classifier = Classifier.load(DEFAULT_MODEL_PATH)
    batch = np.stack([preprocess(path, size=classifier.input_size) for path in lesion_images])

    expected = _keras_probabilities(keras_model, batch, metadata["temperature"])
    actual = _onnx_probabilities(classifier, batch, metadata["temperature"])
    for name in expected:
        assert np.abs(actual[name] - expected[name]).max() <= 1e-4


def test_export_of_a_fresh_model_is_equivalent(tmp_path):
    """The export code path itself, on a Lite0 classifier with ImageNet weights and untrained heads."""
    from inference.training import lite0, network
    from inference.training.export import export_serving

    full, lower, upper = network.lite0_classifier(size=64, split=11, dropout=0.0)
    lite0.port_imagenet_weights([lower, upper], lite0.load_state_dict())
    temperature = {"diagnosis": 1.3, "dx_type": 0.9}
    summary = {
        "version": "test-export",
        "arch": "lite0",
        "temperature": temperature,
        "n_validation": 0,
        "metrics": {"balanced_accuracy": 0.5},
        "config": {},
    }
    path = export_serving(full, out_dir=tmp_path, summary=summary)

    classifier = Classifier.load(path)
    assert classifier.version == "test-export" and classifier.input_size == 64
    batch = np.random.default_rng(1).uniform(-1, 1, (4, 64, 64, 3)).astype(np.float32)
    expected = _keras_probabilities(full, batch, temperature)
    actual = _onnx_probabilities(classifier, batch, temperature)
    for name in expected:
        assert np.abs(actual[name] - expected[name]).max() <= 1e-4
