"""CPU and wall time of measuring one pair of 12-megapixel photos in the worker (lesions.pipeline.measured_change,
what the change stage runs), for this tree and, side by side in one run, for an earlier commit.

    .venv/bin/python bench/bench_pair.py
    .venv/bin/python bench/bench_pair.py --repeats 7 --against c5fa523

The pair is the tests' real dermoscopic photo (tests/fixtures) upscaled to a 4000x3000 JPEG and a later one taken
about 20% closer of the lesion grown by 10%, each with the mask the outline stage stores (OUTLINE_LONG_SIDE long).
Each tree runs in its own process (`--child`), with the test settings (in-memory cache, emptied before each
measurement) and a temporary media folder; the earlier commit's tree comes from `git archive`. Prints the median CPU
time (time.process_time) and wall time per pair of each tree, and their ratio.
Issue 18's target: <= 300 ms of CPU per pair.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PHOTO_SIZE = (4000, 3000)


def write_pair(media: Path) -> list[dict]:
    """Two stored photos and their stored masks under `media`; what a LesionImage of each holds."""
    import numpy as np
    from PIL import Image

    from inference.analysis.segmentation import segment_lesion
    from inference.analysis.sizes import OUTLINE_LONG_SIDE
    from tests.images import real_lesion_photo

    small, grown = real_lesion_photo(), real_lesion_photo(lesion_scale=1.1)
    width, height = small.size
    closer = grown.crop((width // 12, height // 12, width - width // 12, height - height // 12))
    photos = {"before": small, "after": closer}
    stored = []
    for name, photo in photos.items():
        full = photo.resize(PHOTO_SIZE, Image.Resampling.BICUBIC)
        buffer = io.BytesIO()
        full.save(buffer, format="JPEG", quality=90)
        (media / f"{name}.jpg").write_bytes(buffer.getvalue())
        outline_copy = full.copy()
        outline_copy.thumbnail((OUTLINE_LONG_SIDE, OUTLINE_LONG_SIDE), Image.Resampling.LANCZOS)
        mask_image = Image.fromarray(segment_lesion(outline_copy).astype(np.uint8) * 255, mode="L")
        mask_image.save(media / f"{name}-mask.png")
        stored.append(
            {
                "image": f"{name}.jpg",
                "mask": f"{name}-mask.png",
                "width": full.width,
                "height": full.height,
                "sha256": hashlib.sha256(buffer.getvalue()).hexdigest(),
            }
        )
    return stored


def child(repeats: int) -> None:
    """Measure the pair with the tree this process imports; print the figures as JSON."""
    import django

    django.setup()
    from django.conf import settings
    from django.core.cache import cache

    from lesions import pipeline
    from lesions.models import LesionImage

    stored = write_pair(Path(settings.MEDIA_ROOT))
    before, after = (LesionImage(modality="dermoscopic", **fields) for fields in stored)
    cpu, wall = [], []
    for _ in range(repeats + 1):  # the first run warms imports and caches up, and is dropped
        cache.clear()
        started_cpu, started_wall = time.process_time(), time.perf_counter()
        change = pipeline.measured_change(before, after)
        cpu.append(time.process_time() - started_cpu)
        wall.append(time.perf_counter() - started_wall)
    print(
        json.dumps(
            {
                "cpu_ms": statistics.median(cpu[1:]) * 1000,
                "wall_ms": statistics.median(wall[1:]) * 1000,
                "area_ratio": change["area_ratio"],
                "zoom": change["registration"]["transform"]["scale"],
            }
        )
    )


def run_tree(tree: Path, repeats: int) -> dict:
    with tempfile.TemporaryDirectory() as media:
        env = {
            **os.environ,
            "PYTHONPATH": str(tree),
            "DJANGO_SETTINGS_MODULE": "skintrack.settings.test",
            "DJANGO_MEDIA_ROOT": media,
            # One thread, as a worker process shares the machine's cores with its siblings.
            "OMP_NUM_THREADS": "1",
            "OPENBLAS_NUM_THREADS": "1",
        }
        output = subprocess.run(
            [sys.executable, str(Path(__file__)), "--child", "--repeats", str(repeats)],
            env=env,
            cwd=tree,
            check=True,
            capture_output=True,
            text=True,
        ).stdout
    return json.loads(output.strip().splitlines()[-1])


def archived_tree(commit: str, into: Path) -> Path:
    archive = subprocess.run(["git", "archive", commit], cwd=REPO, check=True, capture_output=True).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")
    return into


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--against", default="", help="an earlier commit to measure side by side")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.repeats)
        return
    rows = [("this tree", run_tree(REPO, args.repeats))]
    if args.against:
        with tempfile.TemporaryDirectory() as earlier:
            rows.insert(0, (args.against, run_tree(archived_tree(args.against, Path(earlier)), args.repeats)))
    print(f"Median of {args.repeats} pairs of {PHOTO_SIZE[0]}x{PHOTO_SIZE[1]} JPEGs (lesions.pipeline.measured_change)")
    for name, figures in rows:
        print(
            f"  {name:>12}: CPU {figures['cpu_ms']:7.0f} ms  wall {figures['wall_ms']:7.0f} ms  "
            f"(area x{figures['area_ratio']}, zoom {figures['zoom']})"
        )
    if len(rows) == 2:
        print(f"  CPU ratio this tree / {args.against}: {rows[1][1]['cpu_ms'] / rows[0][1]['cpu_ms']:.2f}")


if __name__ == "__main__":
    main()
