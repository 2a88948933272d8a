from django.core.management.base import BaseCommand, CommandError

from lesions.management.model_option import add_model_argument, load_named_classifier
from lesions.registry import ModelVersionConflict, register_model_version


class Command(BaseCommand):
    help = "Record a model file's version (name, checksum, validation metrics) and optionally make it the active one."

    def add_arguments(self, parser):
        add_model_argument(parser)
        parser.add_argument("--activate", action="store_true", help="make this version the active one")

    def handle(self, *args, model: str, threads: int, activate: bool, **options):
        classifier = load_named_classifier(model=model, threads=threads)
        try:
            version = register_model_version(classifier=classifier, activate=activate)
        except ModelVersionConflict as error:
            raise CommandError(str(error)) from error
        state = "active" if version.is_active else "registered, not active"
        self.stdout.write(f"{version} ({classifier.path}, sha256 {version.sha256[:12]}…): {state}")
