"""Serving: the shipped lesion classifier behind a small, TensorFlow-free API.

    classifier = Classifier.load(DEFAULT_MODEL_PATH)
    [prediction] = classifier.predict([upload_bytes])

Runs the exported ONNX graph with ONNX Runtime; temperatures and labels come from the
metadata JSON written beside it by `inference.training.export`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from inference.serving.calibration import softmax
from inference.serving.labels import CLASSES, DX_TYPES, MALIGNANT_CLASSES
from inference.serving.preprocessing import ImageInput, preprocess


class ModelLoadError(Exception):
    """The serving model or its metadata is missing, unreadable or inconsistent."""


@dataclass(frozen=True)
class Prediction:
    probabilities: dict[str, float]  # the 7 diagnoses, calibrated, summing to 1
    top: list[tuple[str, float]]  # the two most probable diagnoses, most probable first
    malignancy: float  # P(mel) + P(bcc) + P(akiec)
    dx_type: dict[str, float]  # how such a diagnosis would be confirmed, summing to 1
    model_version: str

    @classmethod
    def from_probabilities(
        cls, probabilities: dict[str, float], dx_type: dict[str, float], *, model_version: str
    ) -> Prediction:
        """The prediction that calibrated probabilities make: the two most probable diagnoses and the malignancy."""
        ranked = sorted(probabilities.items(), key=lambda item: item[1], reverse=True)
        return cls(
            probabilities=probabilities,
            top=ranked[:2],
            malignancy=float(sum(probabilities[name] for name in MALIGNANT_CLASSES)),
            dx_type=dx_type,
            model_version=model_version,
        )


def _file_sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


class Classifier:
    def __init__(self, *, session, metadata: dict, sha256: str, path: Path):
        self._session = session
        self.path = path
        self.sha256 = sha256
        self.name: str = metadata["name"]
        self.version: str = metadata["version"]
        self.metrics: dict = metadata.get("metrics", {})
        self.input_size: int = int(metadata["input"]["size"])
        self._temperature: dict[str, float] = metadata["temperature"]

    @classmethod
    def load(cls, path: str | Path, *, threads: int | None = None) -> Classifier:
        """Open the serving file and the metadata JSON beside it; ModelLoadError says what is wrong."""
        import onnxruntime

        path = Path(path)
        metadata_path = path.with_suffix(".json")
        for required in (path, metadata_path):
            if not required.is_file():
                raise ModelLoadError(f"classifier file not found: {required}")
        try:
            metadata = json.loads(metadata_path.read_text())
        except (OSError, ValueError) as error:
            raise ModelLoadError(f"classifier metadata {metadata_path} is not readable JSON: {error}") from error
        missing = {"name", "version", "input", "classes", "dx_types", "temperature"} - set(metadata)
        if missing:
            raise ModelLoadError(f"classifier metadata {metadata_path} lacks {sorted(missing)}")
        if tuple(metadata["classes"]) != CLASSES or tuple(metadata["dx_types"]) != DX_TYPES:
            raise ModelLoadError(
                f"classifier metadata {metadata_path} has labels other than this code's: "
                f"{metadata['classes']} / {metadata['dx_types']}"
            )

        options = onnxruntime.SessionOptions()
        # Idle ORT threads spin by default; on a few shared cores that steals CPU from the other threads and
        # processes (measured on 2 busy cores: ~170 -> ~225 img/s at batch 32 with spinning off).
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        if threads:
            options.intra_op_num_threads = threads
        try:
            session = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        except Exception as error:  # onnxruntime raises its own untyped errors for bad files
            raise ModelLoadError(f"classifier file {path} could not be loaded by ONNX Runtime: {error}") from error
        outputs = {output.name for output in session.get_outputs()}
        if not {"diagnosis", "dx_type"} <= outputs:
            raise ModelLoadError(f"classifier file {path} lacks the diagnosis/dx_type outputs (has {outputs})")
        return cls(session=session, metadata=metadata, sha256=_file_sha256(path), path=path)

    def logits(self, batch: np.ndarray) -> dict[str, np.ndarray]:
        """Raw head outputs for a preprocessed float32 batch (n, size, size, 3)."""
        diagnosis, dx_type = self._session.run(["diagnosis", "dx_type"], {"image": batch})
        return {"diagnosis": diagnosis, "dx_type": dx_type}

    def predict(self, images: Iterable[ImageInput], *, batch_size: int = 32) -> list[Prediction]:
        """Calibrated predictions for uploads (PIL images, paths or bytes), in order."""
        images = list(images)
        predictions: list[Prediction] = []
        for start in range(0, len(images), batch_size):
            batch = np.stack([preprocess(image, size=self.input_size) for image in images[start : start + batch_size]])
            logits = self.logits(batch)
            diagnosis = softmax(logits["diagnosis"], temperature=self._temperature["diagnosis"])
            dx_type = softmax(logits["dx_type"], temperature=self._temperature["dx_type"])
            predictions.extend(self._prediction(row, dx_row) for row, dx_row in zip(diagnosis, dx_type, strict=True))
        return predictions

    def _prediction(self, diagnosis: np.ndarray, dx_type: np.ndarray) -> Prediction:
        return Prediction.from_probabilities(
            {name: float(value) for name, value in zip(CLASSES, diagnosis, strict=True)},
            {name: float(value) for name, value in zip(DX_TYPES, dx_type, strict=True)},
            model_version=self.version,
        )
