"""SkinTrack's lesion classifier and lesion analysis: a plain Python package (no Django, and no TensorFlow at
serving time).

    serving/    what the platform runs on every photo: preprocessing, the classifier, the photo gate
    analysis/   segmentation, registration of two photos of one lesion, change measurement
    training/   training, export and evaluation (`python -m inference.training.train`, `.export`, `.evaluate`);
                imports TensorFlow, and neither serving nor analysis imports it
    paths.py    every file and folder the package reads or writes

Serving API: `Classifier.load(DEFAULT_MODEL_PATH).predict(images)` -> list of `Prediction`.
"""

from inference.paths import DEFAULT_MODEL_PATH
from inference.serving.classifier import Classifier, ModelLoadError, Prediction

__all__ = ["DEFAULT_MODEL_PATH", "Classifier", "ModelLoadError", "Prediction"]
