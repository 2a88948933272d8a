"""SkinTrack's lesion classifier and lesion analysis: a plain Python package (no Django, and no TensorFlow at
serving time).

    serving/    classifying a photo: preprocessing, the classifier, its labels and calibration
    analysis/   the photo gate, segmentation, registration of two photos of one lesion, change measurement
    training/   training, export and evaluation (`python -m inference.training.train`, `.export`, `.evaluate`);
                imports TensorFlow
Each layer imports only the ones below it: training, then analysis, then serving (contracts in pyproject.toml).
    paths.py    every file and folder the package reads or writes

Serving API: `Classifier.load(DEFAULT_MODEL_PATH).predict(images)` -> list of `Prediction`.
"""

from inference.paths import DEFAULT_MODEL_PATH
from inference.serving.classifier import Classifier, ModelLoadError, Prediction

__all__ = ["DEFAULT_MODEL_PATH", "Classifier", "ModelLoadError", "Prediction"]
