"""Recreate ham10000_split.csv: a fixed, seeded, lesion-grouped, class-stratified 80/20 split.

Usage: python inference/splits/make_split.py ../shared/data/ham10000/metadata.csv
Images of one lesion always share a side, so no lesion leaks from training into validation.
"""

import collections
import csv
import random
import sys
from pathlib import Path

SEED = 20261123
VALIDATION_FRACTION = 0.2


def main(metadata_path: str) -> None:
    with open(metadata_path, newline="") as metadata:
        rows = list(csv.DictReader(metadata))
    lesion_dx = {row["lesion_id"]: row["dx"] for row in rows}
    lesions_by_dx = collections.defaultdict(list)
    for lesion_id, dx in sorted(lesion_dx.items()):
        lesions_by_dx[dx].append(lesion_id)
    rng = random.Random(SEED)
    validation = set()
    for _dx, lesion_ids in sorted(lesions_by_dx.items()):
        rng.shuffle(lesion_ids)
        validation.update(lesion_ids[: round(len(lesion_ids) * VALIDATION_FRACTION)])
    out = Path(__file__).with_name("ham10000_split.csv")
    with out.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["image_id", "lesion_id", "dx", "dx_type", "split"])
        for row in sorted(rows, key=lambda row: row["image_id"]):
            split = "validation" if row["lesion_id"] in validation else "train"
            writer.writerow([row["image_id"], row["lesion_id"], row["dx"], row["dx_type"], split])


if __name__ == "__main__":
    main(sys.argv[1])
