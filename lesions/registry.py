"""The model registry: which model versions exist, which one is served, and the classifier of each.

The model is loaded once per process.
"""

import functools
import json
import logging
from pathlib import Path

from django.conf import settings
from django.db import transaction

from inference import DEFAULT_MODEL_PATH, Classifier, ModelLoadError
from lesions.models import ModelVersion

logger = logging.getLogger(__name__)


class ModelVersionConflict(Exception):
    """A model file claims a version that is already registered with a different file."""


def initial_model_path() -> Path:
    """The model a fresh installation serves until another version is activated: SKINTRACK_MODEL_PATH, else the
    shipped one."""
    return Path(settings.SKINTRACK_MODEL_PATH or DEFAULT_MODEL_PATH)


@functools.cache
def load_classifier(path: Path, threads: int) -> Classifier:
    """Each model file is loaded once per process. A failed load is not remembered, so a repaired file is used
    by the next task without restarting the worker."""
    classifier = Classifier.load(path, threads=threads)
    # Said once per process, so an operator (and the queue tests) can see which workers hold the model in memory.
    logger.info("Loaded the classifier %s from %s.", classifier.version, path)
    return classifier


def served_version() -> ModelVersion:
    """The version new photos are classified with: the active one (`register_model --activate` changes it for the
    next photo, without restarting anything); on a fresh installation the initial model, registered and activated."""
    active = ModelVersion.objects.filter(is_active=True).first()
    if active is None:
        initial = load_classifier(initial_model_path(), settings.SKINTRACK_MODEL_THREADS)
        return register_model_version(classifier=initial)
    return active


def serving_model() -> tuple[Classifier, ModelVersion]:
    """The active version's classifier, checked against the file it was registered with."""
    version = served_version()
    # A file recorded on another machine (a copied database, a moved checkout) is found again by its version.
    recorded = Path(version.file_path) if version.file_path else None
    path = recorded if recorded is not None and recorded.is_file() else model_path_for(version=version.version)
    classifier = load_classifier(path, settings.SKINTRACK_MODEL_THREADS)
    if classifier.sha256 != version.sha256:
        raise ModelVersionConflict(
            f"the active model version {version.version} was registered with file checksum {version.sha256}, but "
            f"{path} now has {classifier.sha256}: register the new file under a new version"
        )
    return classifier, version


def served_classifier() -> Classifier:
    return serving_model()[0]


def model_path_for(*, version: str) -> Path:
    """The serving file of a model version: a path to an .onnx file, or a version named in the metadata of the
    served model or of a model in the shipped artefacts folder."""
    if version.endswith(".onnx"):
        return Path(version)
    candidates = dict.fromkeys([initial_model_path(), *sorted(DEFAULT_MODEL_PATH.parent.glob("*.onnx"))])
    for path in candidates:
        try:
            if json.loads(path.with_suffix(".json").read_text()).get("version") == version:
                return path
        except (OSError, ValueError):
            continue
    known = ", ".join(str(path) for path in candidates) or "none"
    raise ModelLoadError(f"no model file with version {version!r} (looked at: {known})")


def classifier_for(*, version: str = "", threads: int = 0) -> Classifier:
    """The classifier of a model version (see model_path_for), or the served one when none is named; `threads`
    defaults to the setting."""
    if not version:
        return served_classifier()
    return load_classifier(model_path_for(version=version), threads or settings.SKINTRACK_MODEL_THREADS)


def register_model_version(*, classifier: Classifier, activate: bool = False) -> ModelVersion:
    """The record of a loaded model, created from its metadata when first seen. It becomes the active version
    when asked, or when no version is active yet, so that a fresh installation serves the shipped model."""
    with transaction.atomic():
        version, _ = ModelVersion.objects.get_or_create(
            version=classifier.version,
            defaults={
                "name": classifier.name,
                "sha256": classifier.sha256,
                "metrics": classifier.metrics,
                "file_path": str(classifier.path.resolve()),
            },
        )
        if not version.file_path:
            version.file_path = str(classifier.path.resolve())
            version.save(update_fields=["file_path"])
        if version.sha256 != classifier.sha256:
            raise ModelVersionConflict(
                f"model version {version.version} is registered with file checksum {version.sha256}, but "
                f"{classifier.path} has {classifier.sha256}: export the new file under a new version"
            )
        if not version.is_active and (activate or not ModelVersion.objects.filter(is_active=True).exists()):
            ModelVersion.objects.filter(is_active=True).update(is_active=False)
            ModelVersion.objects.filter(pk=version.pk).update(is_active=True)
            version.is_active = True
    return version
