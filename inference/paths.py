"""Every file and folder the inference package reads or writes, in one place.

Shipped files live in inference/artifacts/ and inference/splits/; scratch work (caches, training runs) in var/;
the HAM10000 photos outside the repository (HAM10000_DIR, by default ../shared/data/ham10000).
"""

import os
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
REPO_DIR = PACKAGE_DIR.parent

ARTIFACTS_DIR = PACKAGE_DIR / "artifacts"
DEFAULT_MODEL_PATH = ARTIFACTS_DIR / "skin-lite0.onnx"
LEARNED_SEGMENTER_PATH = ARTIFACTS_DIR / "lesion-segmenter.onnx"
GATE_PATH = ARTIFACTS_DIR / "photo-gate.json"
GATE_METRICS_PATH = ARTIFACTS_DIR / "photo-gate-metrics.json"
SEGMENTATION_METRICS_PATH = ARTIFACTS_DIR / "segmentation-metrics.json"
REPORTS_DIR = ARTIFACTS_DIR / "reports"

SPLIT_CSV = PACKAGE_DIR / "splits" / "ham10000_split.csv"
DEFAULT_DATA_DIR = Path(os.environ.get("HAM10000_DIR", REPO_DIR.parent / "shared" / "data" / "ham10000"))

CACHE_DIR = REPO_DIR / "var" / "cache"
RUNS_DIR = REPO_DIR / "var" / "train"

MODEL_CARD_PATH = REPO_DIR / "docs" / "model-card.md"
