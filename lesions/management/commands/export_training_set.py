from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from accounts.models import Clinic
from lesions.training_export import export_training_set


class Command(BaseCommand):
    help = (
        "Write the confirmed diagnoses of patients who did not opt out of AI training as metadata.csv plus "
        "images/, in HAM10000's layout, for retraining the classifier."
    )

    def add_arguments(self, parser):
        parser.add_argument("out_dir", type=Path)
        parser.add_argument("--clinic", help="only this clinic's patients (its name)")

    def handle(self, *args, out_dir: Path, clinic: str | None, **options):
        clinic_id = None
        if clinic:
            found = Clinic.objects.filter(name=clinic).first()
            if found is None:
                raise CommandError(f"No clinic is named {clinic!r}.")
            clinic_id = found.pk
        summary = export_training_set(out_dir=out_dir, clinic_id=clinic_id, exported_by="manage.py export_training_set")
        self.stdout.write(
            self.style.SUCCESS(
                f"Wrote {summary.images} images of {summary.lesions} lesions to {out_dir}; "
                f"left out {summary.skipped_opted_out} images of patients who opted out."
            )
        )
        if labels := summary.describe_labels():
            self.stdout.write(f"Diagnoses: {labels}.")
