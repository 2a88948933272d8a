"""Model files for the classification tests: the served model, and copies of it under other
versions or damaged, written to a test's temporary folder."""

import json
import shutil
from pathlib import Path

import pytest

from lesions import pipeline, registry


def served_model() -> Path:
    path = registry.initial_model_path()
    if not path.is_file():
        pytest.fail(f"the served model {path} is missing: export it with `python -m inference.training.export`")
    return path


def model_copy(folder: Path, *, version: str, corrupt: bool = False) -> Path:
    """The served model under another version; `corrupt` writes a damaged serving file instead of a copy."""
    source = served_model()
    target = folder / f"model-{version}.onnx"
    if corrupt:
        target.write_bytes(source.read_bytes()[:1000] + b"\x00 damaged in transit")
    else:
        shutil.copyfile(source, target)
    metadata = json.loads(source.with_suffix(".json").read_text())
    target.with_suffix(".json").write_text(json.dumps({**metadata, "version": version}))
    return target


def run_pipeline(image_pk: int) -> None:
    """What the workers do for a photo, in-process: classify it, then (analysis queue) outline it and measure its
    change from the lesion's previous photo."""
    pipeline.classify_image(image_pk=image_pk)
    pipeline.analyse_image(image_pk=image_pk)
