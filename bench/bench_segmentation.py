"""Lesion segmentation and lesion comparison (segment both, register, measure), timed at two photo sizes.

    .venv/bin/python bench/bench_segmentation.py
    .venv/bin/python bench/bench_segmentation.py --photos 5 --repeats 3

Photos are HAM10000 600x450 originals (and their 200x150 copies made by BOX downscaling) from
../shared/data/ham10000/originals, or synthetic lesion photos when that folder is absent. Each comparison pairs a
photo with the same photo whose lesion was enlarged by 20%. Prints the median seconds per call, in one run so
the sizes compare side by side (this machine's speed drifts 2-4x between runs).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from inference.analysis.change import compare_lesion_images  # noqa: E402
from inference.analysis.segmentation import segment_lesion  # noqa: E402
from inference.paths import DEFAULT_DATA_DIR  # noqa: E402
from inference.training.synthetic import enlarge_lesion, synthetic_lesion_photo  # noqa: E402

ORIGINALS = DEFAULT_DATA_DIR / "originals"
SIZES = ((200, 150), (600, 450))


def load_photos(count: int) -> tuple[list[np.ndarray], str]:
    paths = sorted(ORIGINALS.glob("*.jpg"))[:count]
    if paths:
        return [np.asarray(Image.open(path).convert("RGB")) for path in paths], f"HAM10000 originals ({ORIGINALS})"
    photos = [synthetic_lesion_photo(width=600, height=450, seed=seed)[0] for seed in range(count)]
    return photos, "synthetic lesion photos (HAM10000 originals not found)"


def median_seconds(call, inputs: list, repeats: int) -> float:
    call(inputs[0])  # warm-up: imports, caches
    timings = []
    for _ in range(repeats):
        for item in inputs:
            started = time.perf_counter()
            call(item)
            timings.append(time.perf_counter() - started)
    return statistics.median(timings)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--photos", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=2)
    arguments = parser.parse_args()
    originals, source = load_photos(arguments.photos)
    print(f"photos: {len(originals)} {source}; repeats: {arguments.repeats}")
    print(f"{'size':>9}  {'segment (s)':>12}  {'compare (s)':>12}")
    for width, height in SIZES:
        photos = [
            np.asarray(Image.fromarray(photo).resize((width, height), Image.Resampling.BOX)) for photo in originals
        ]
        pairs = [(photo, enlarge_lesion(photo, segment_lesion(photo), factor=1.2)) for photo in photos]
        segment = median_seconds(segment_lesion, photos, arguments.repeats)
        compare = median_seconds(lambda pair: compare_lesion_images(*pair), pairs, arguments.repeats)
        print(f"{width:>5}x{height:<3}  {segment:>12.3f}  {compare:>12.3f}")


if __name__ == "__main__":
    main()
