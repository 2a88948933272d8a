"""SkinTrack's lesion classifier: a plain Python package (no Django, and no TensorFlow at serving time).

Serving API: `Classifier.load(DEFAULT_MODEL_PATH).predict(images)` -> list of `Prediction`.
Training and export (`python -m inference.train`, `inference.export`, `inference.evaluate`)
import TensorFlow; nothing re-exported here does.
"""

from .classifier import DEFAULT_MODEL_PATH, Classifier, ModelLoadError, Prediction
from .labels import CLASSES, DX_TYPES, MALIGNANT_CLASSES
from .preprocessing import preprocess

__all__ = [
    "CLASSES",
    "DEFAULT_MODEL_PATH",
    "DX_TYPES",
    "MALIGNANT_CLASSES",
    "Classifier",
    "ModelLoadError",
    "Prediction",
    "preprocess",
]
