"""What importing the served parts of `inference` pulls in, measured in a fresh interpreter (the import contracts in
pyproject.toml check the source; this checks what actually loads)."""

import subprocess
import sys
from pathlib import Path

REPO_DIR = Path(__file__).resolve().parents[2]


def test_serving_and_analysis_load_no_django_app_or_training_code():
    script = (
        "import importlib, pkgutil, sys\n"
        "import inference, inference.analysis, inference.serving\n"
        "for package in (inference.serving, inference.analysis):\n"
        "    for module in pkgutil.iter_modules(package.__path__, package.__name__ + '.'):\n"
        "        importlib.import_module(module.name)\n"
        "forbidden = ('django', 'rest_framework', 'celery', 'skintrack', 'accounts', 'audit', 'lesions', 'sharing',\n"
        "             'inference.training', 'tensorflow', 'keras')\n"
        "loaded = sorted(name for name in sys.modules if name.startswith(forbidden))\n"
        "assert 'inference.analysis.change' in sys.modules and 'inference.serving.classifier' in sys.modules\n"
        "assert not loaded, loaded\n"
    )
    subprocess.run([sys.executable, "-c", script], cwd=REPO_DIR, check=True, timeout=120)
