from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from lesions.management.model_option import add_model_argument, load_named_classifier
from lesions.models import LesionImage
from lesions.pipeline import rescore_images
from lesions.registry import ModelVersionConflict, register_model_version


class Command(BaseCommand):
    help = (
        "Classify every stored photo again with one model version, in batches. Each photo keeps the predictions "
        "of earlier versions beside the new one. Photos held back by the photo check (and not released by a "
        "clinician) are left alone."
    )

    def add_arguments(self, parser):
        add_model_argument(parser)
        parser.add_argument("--batch-size", type=int, default=32)
        parser.add_argument(
            "--activate", action="store_true", help="once every photo is scored, make this version the active one"
        )

    def handle(self, *args, model: str, threads: int, batch_size: int, activate: bool, **options):
        classifier = load_named_classifier(model=model, threads=threads)
        images = LesionImage.objects.exclude(status=LesionImage.Status.GATED).order_by("pk")
        try:
            with tqdm(total=images.count(), unit="image", desc=f"rescore {classifier.version}") as progress:
                unreadable = rescore_images(
                    images=images.iterator(chunk_size=500),
                    classifier=classifier,
                    batch_size=batch_size,
                    on_batch=progress.update,
                )
            if activate:
                register_model_version(classifier=classifier, activate=True)
        except ModelVersionConflict as error:
            raise CommandError(str(error)) from error
        for image, reason in unreadable:
            self.stderr.write(f"image {image.pk} ({image.image.name}) could not be read: {reason}")
        scored = progress.n - len(unreadable)
        version = f"{classifier.name} {classifier.version}"
        self.stdout.write(f"{scored} photos scored by {version}; {len(unreadable)} unreadable")
