"""What a share says about a lesion, in one place for the email, the share page and the PDF report."""

from dataclasses import dataclass, field
from datetime import datetime

from django.db.models import Prefetch

from inference.labels import CLASS_NAMES
from lesions.models import Lesion, LesionImage, Prediction

CAVEAT = (
    "These results come from SkinTrack's image classifier. They are decision support for clinicians, not a "
    "diagnosis: a clinician must examine the lesion, and a biopsy decides."
)
CHANGE_NOTE = (
    "Measured on each photo on its own (area as a share of the photo, diameter in pixels): a photo taken closer "
    "reads as larger, so compare photos taken the same way."
)

# Measurements (see inference.change.LesionMeasurements) compared between the last two photos: a ratio for sizes,
# a difference for the 0-1 and colour scales.
RATIO_MEASUREMENTS = {"area_fraction": "Area", "longest_diameter_pixels": "Longest diameter"}
DIFFERENCE_MEASUREMENTS = {
    "asymmetry": "Asymmetry (0-1)",
    "border_irregularity": "Border irregularity",
    "colour_variegation": "Colour variation (Delta E)",
}


@dataclass(frozen=True)
class ClassScore:
    code: str
    name: str
    probability: float


@dataclass(frozen=True)
class MeasuredChange:
    label: str
    before: float
    after: float
    is_ratio: bool

    @property
    def figure(self) -> str:
        """The change in words a reader can check against before and after, e.g. 'x1.32' or '+0.05'."""
        if self.is_ratio:
            return f"x{self.after / self.before:.2f}" if self.before else "n/a"
        return f"{self.after - self.before:+.2f}"


@dataclass(frozen=True)
class PhotoRow:
    image: LesionImage
    prediction: Prediction | None
    top: list[ClassScore]

    @property
    def taken_at(self) -> datetime:
        return self.image.captured_at


@dataclass
class LesionSummary:
    lesion: Lesion
    photos: list[PhotoRow]
    changes: list[MeasuredChange] = field(default_factory=list)

    @property
    def patient(self):
        return self.lesion.patient

    @property
    def latest(self) -> PhotoRow | None:
        return self.photos[-1] if self.photos else None

    @property
    def latest_with_result(self) -> PhotoRow | None:
        return next((row for row in reversed(self.photos) if row.prediction is not None), None)

    @property
    def first_photo_at(self) -> datetime | None:
        return self.photos[0].taken_at if self.photos else None

    @property
    def latest_photo_at(self) -> datetime | None:
        return self.latest.taken_at if self.latest else None

    @property
    def previous_photo_at(self) -> datetime | None:
        return self.photos[-2].taken_at if len(self.photos) > 1 else None

    caveat = CAVEAT
    change_note = CHANGE_NOTE


def top_classes(prediction: Prediction | None) -> list[ClassScore]:
    if prediction is None:
        return []
    return [
        ClassScore(code, CLASS_NAMES.get(code, code), float(probability)) for code, probability in prediction.top[:2]
    ]


def measured_changes(before: LesionImage, after: LesionImage) -> list[MeasuredChange]:
    """The change between two photos' stored measurements; empty unless both photos were measured."""
    if not before.measurements or not after.measurements:
        return []
    changes = []
    for measurements, is_ratio in ((RATIO_MEASUREMENTS, True), (DIFFERENCE_MEASUREMENTS, False)):
        for key, label in measurements.items():
            earlier, later = before.measurements.get(key), after.measurements.get(key)
            if isinstance(earlier, int | float) and isinstance(later, int | float):
                changes.append(MeasuredChange(label, float(earlier), float(later), is_ratio))
    return changes


def summarise_lesion(lesion: Lesion) -> LesionSummary:
    images = lesion.images.order_by("captured_at", "id").prefetch_related(
        Prefetch("predictions", queryset=Prediction.objects.select_related("model_version"))
    )
    photos = [
        PhotoRow(image=image, prediction=image.latest_prediction, top=top_classes(image.latest_prediction))
        for image in images
    ]
    changes = measured_changes(photos[-2].image, photos[-1].image) if len(photos) > 1 else []
    return LesionSummary(lesion=lesion, photos=photos, changes=changes)
