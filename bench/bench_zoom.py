"""How far the shipped classifier's answer moves with the camera's zoom and between photos of one lesion.

    python bench/bench_zoom.py [--photos 400] [--zoom 1.3]

On the validation split, through the serving path (ONNX Runtime, the worker's preprocessing):
- zoom: each photo as stored against the same photo zoomed in (a centre crop of 1/zoom of each side, as a closer
  shot of the same lesion would frame it): median and 90th percentile |change in malignancy|, and the share of
  photos whose most likely class changes;
- consistency: every pair of photos of one lesion (HAM10000 often has the same lesion photographed again): the
  share of pairs with the same most likely class, and the median |change in malignancy|.
Issue 19's targets: zoom median <= 0.03; pairs agreeing >= 85%, median change <= 0.05.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

REPO_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_DIR))

from inference import DEFAULT_MODEL_PATH, Classifier  # noqa: E402
from inference.paths import DEFAULT_DATA_DIR  # noqa: E402
from inference.serving.preprocessing import load_rgb  # noqa: E402
from inference.training.dataset import read_split  # noqa: E402
from inference.training.evaluate import _zoom  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--photos", type=int, default=400, help="validation photos for the zoom figures")
    parser.add_argument("--zoom", type=float, default=1.3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR)
    args = parser.parse_args()

    classifier = Classifier.load(DEFAULT_MODEL_PATH, threads=args.threads)
    split = read_split(name="validation")

    def photo(image_id: str):
        return load_rgb(args.data_dir / "images" / f"{image_id}.jpg")

    chosen = np.random.default_rng(19).choice(len(split.image_ids), size=args.photos, replace=False)
    ids = [split.image_ids[index] for index in sorted(chosen)]
    stored = classifier.predict([photo(image_id) for image_id in ids])
    zoomed = classifier.predict([_zoom(photo(image_id), 1 / args.zoom) for image_id in ids])
    zoom_change = np.array([abs(a.malignancy - b.malignancy) for a, b in zip(stored, zoomed, strict=True)])
    top_changed = np.mean([a.top[0][0] != b.top[0][0] for a, b in zip(stored, zoomed, strict=True)])

    by_lesion = defaultdict(list)
    for image_id, lesion_id in zip(split.image_ids, split.lesion_ids, strict=True):
        by_lesion[lesion_id].append(image_id)
    repeated = [image_ids for image_ids in by_lesion.values() if len(image_ids) > 1]
    repeated_ids = [image_id for image_ids in repeated for image_id in image_ids]
    repeated_predictions = classifier.predict([photo(image_id) for image_id in repeated_ids])
    predictions = dict(zip(repeated_ids, repeated_predictions, strict=True))
    pairs = [pair for image_ids in repeated for pair in itertools.combinations(image_ids, 2)]
    agree = np.mean([predictions[a].top[0][0] == predictions[b].top[0][0] for a, b in pairs])
    pair_change = np.array([abs(predictions[a].malignancy - predictions[b].malignancy) for a, b in pairs])

    print(json.dumps({
        "model": f"{classifier.name} {classifier.version}",
        "zoom": {
            "factor": args.zoom,
            "photos": len(ids),
            "median_abs_malignancy_change": round(float(np.median(zoom_change)), 4),
            "p90_abs_malignancy_change": round(float(np.quantile(zoom_change, 0.9)), 4),
            "top1_changed": round(float(top_changed), 4),
        },
        "same_lesion_pairs": {
            "lesions": len(repeated),
            "pairs": len(pairs),
            "top1_agreement": round(float(agree), 4),
            "median_abs_malignancy_change": round(float(np.median(pair_change)), 4),
        },
    }, indent=2))  # fmt: skip


if __name__ == "__main__":
    main()
