"""The confirmed diagnoses of patients who did not opt out, as a HAM10000-style training set.

Rows carry no names or record numbers: lesion and image ids are SkinTrack's own, prefixed, and age is in years
at the photo's date, as in HAM10000's metadata.csv, so the training pipeline reads both alike. Each confirmed
diagnosis is written as the model class it belongs to (melanoma in situ as mel, for one); one that is none of the
classes (invasive squamous cell carcinoma, 'other') is left out, and the summary says which were mapped or left out.
The photos still leave the system: the audit trail names every patient whose photos an export wrote.
"""

import csv
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from audit.models import AuditEvent
from audit.services import list_targets, record_event
from lesions.models import LesionImage

COLUMNS = ["lesion_id", "image_id", "dx", "dx_type", "age", "sex", "localization"]


@dataclass(frozen=True)
class ExportSummary:
    images: int
    lesions: int
    skipped_opted_out: int
    # Images by (diagnosis, model class) where the two differ, and by diagnosis where it trains no class.
    relabelled: Counter = field(default_factory=Counter)
    left_out: Counter = field(default_factory=Counter)

    def describe_labels(self) -> str:
        """Which diagnoses were written as which model class, and which were left out, in words."""
        parts = [f"{name} written as {model_class} ({count})" for (name, model_class), count in self.relabelled.items()]
        parts += [
            f"left out {count} images diagnosed {name}: none of the model's classes"
            for name, count in self.left_out.items()
        ]
        return "; ".join(parts)


def exportable_images(*, clinic_id: int | None = None):
    images = LesionImage.objects.filter(lesion__confirmed_diagnosis__isnull=False).select_related(
        "lesion__confirmed_diagnosis", "lesion__patient"
    )
    if clinic_id is not None:
        images = images.filter(lesion__patient__clinic_id=clinic_id)
    return images.order_by("lesion_id", "captured_at", "id")


def age_at(image: LesionImage) -> str:
    born = image.lesion.patient.date_of_birth
    if born is None:
        return ""
    taken = image.captured_at.date()
    return str(taken.year - born.year - ((taken.month, taken.day) < (born.month, born.day)))


def export_training_set(*, out_dir: Path, exported_by: str, clinic_id: int | None = None) -> ExportSummary:
    """Write the set; `exported_by` names who exported it in the audit trail (a command has no signed-in user)."""
    (out_dir / "images").mkdir(parents=True, exist_ok=True)
    images = exportable_images(clinic_id=clinic_id)
    opted_out = images.filter(lesion__patient__ai_training_opt_out=True).count()
    lesions = set()
    patients = set()
    count = 0
    relabelled, left_out = Counter(), Counter()
    with (out_dir / "metadata.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(COLUMNS)
        for image in images.filter(lesion__patient__ai_training_opt_out=False).iterator():
            diagnosis = image.lesion.confirmed_diagnosis
            model_class = diagnosis.training_class
            if model_class is None:
                left_out[diagnosis.name] += 1
                continue
            if model_class != diagnosis.dx:
                relabelled[(diagnosis.name, model_class)] += 1
            image_id = f"SKINTRACK_{image.pk:07d}"
            with image.image.open("rb") as stored:
                (out_dir / "images" / f"{image_id}.jpg").write_bytes(stored.read())
            writer.writerow(
                [
                    f"SKINTRACK_L{image.lesion_id:07d}",
                    image_id,
                    model_class,
                    diagnosis.dx_type,
                    age_at(image),
                    image.lesion.patient.sex,
                    image.lesion.body_site,
                ]
            )
            lesions.add(image.lesion_id)
            patients.add((image.lesion.patient_id, image.lesion.patient.clinic_id))
            count += 1
    for target in list_targets(patients, description=f"training set: {count} photos to {out_dir}"[:200]):
        record_event(request=None, action=AuditEvent.Action.EXPORT, target=target, username=exported_by)
    return ExportSummary(
        images=count, lesions=len(lesions), skipped_opted_out=opted_out, relabelled=relabelled, left_out=left_out
    )
