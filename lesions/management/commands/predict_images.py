import csv
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from inference.serving.preprocessing import load_rgb
from lesions.management.model_option import add_model_argument, load_named_classifier
from lesions.pipeline import predict_in_batches

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png"}
# ISIC 2018 Task 3 submission columns, and the model's class each one holds.
ISIC_COLUMNS = {"MEL": "mel", "NV": "nv", "BCC": "bcc", "AKIEC": "akiec", "BKL": "bkl", "DF": "df", "VASC": "vasc"}


class Command(BaseCommand):
    help = (
        "Classify every JPEG/PNG in a folder and write one row per image in the ISIC 2018 Task 3 submission format "
        "(image,MEL,NV,BCC,AKIEC,BKL,DF,VASC). Unreadable files are listed and skipped."
    )

    def add_arguments(self, parser):
        parser.add_argument("folder", type=Path)
        parser.add_argument("--out", type=Path, default=Path("predictions.csv"))
        add_model_argument(parser)
        parser.add_argument("--batch-size", type=int, default=32)

    def handle(self, *args, folder: Path, out: Path, model: str, threads: int, batch_size: int, **options):
        if not folder.is_dir():
            raise CommandError(f"{folder} is not a folder")
        paths = sorted(path for path in folder.iterdir() if path.suffix.lower() in IMAGE_SUFFIXES and path.is_file())
        classifier = load_named_classifier(model=model, threads=threads)
        unreadable = []
        with out.open("w", newline="") as handle, tqdm(total=len(paths), unit="image", desc="predict") as progress:
            writer = csv.writer(handle)
            writer.writerow(["image", *ISIC_COLUMNS])
            for path, result, reason in predict_in_batches(
                paths, read=load_rgb, classifier=classifier, batch_size=batch_size
            ):
                progress.update(1)
                if result is None:
                    unreadable.append((path, reason))
                    continue
                writer.writerow([path.stem, *(f"{result.probabilities[name]:.6f}" for name in ISIC_COLUMNS.values())])
        for path, reason in unreadable:
            self.stderr.write(f"skipped {path.name}: not a readable image ({reason})")
        written = len(paths) - len(unreadable)
        self.stdout.write(
            f"{written} rows written to {out} by {classifier.name} {classifier.version}; skipped: {len(unreadable)}"
        )
