"""What a share says about a lesion, in one place for the email, the share page and the PDF report."""

from dataclasses import dataclass, field
from datetime import datetime

from django.db.models import Prefetch

from inference.analysis.change import CANNOT_TELL, CHANGED, verdict_of
from inference.serving.labels import CLASS_NAMES
from lesions.models import ConfirmedDiagnosis, Lesion, LesionImage, PhotoReview, PhysicalSize, Prediction
from lesions.pipeline import stored_change
from lesions.presenters import relative_areas
from lesions.release import ResultViewer

CAVEAT = (
    "These results come from SkinTrack's image classifier. They are decision support for clinicians, not a "
    "diagnosis: a clinician must examine the lesion, and a biopsy decides."
)
MODEL_OUTPUT_HEADING = "Model output (image classifier; decision support, not a diagnosis)"
PER_PHOTO_NOTE = (
    "Measured on each photo on its own (area as a share of the photo, diameter in pixels): a photo taken closer "
    "reads as larger, so compare photos taken the same way."
)
ALIGNED_NOTE = (
    "Measured after aligning the later photo onto the earlier one: sizes are on the earlier photo's scale, so a "
    "photo taken closer does not read as larger. {quality}"
)
SIZE_NOTE = (
    "Areas are on the first photo's scale: each photo's lesion area is converted with the zoom measured between it "
    "and the photo before, so a photo taken closer does not read as larger; n/a where two photos could not be "
    "compared fairly. Millimetres where the photo's scale is known (a length measured on the photo, or the clinic's "
    "dermatoscope)."
)


NO_BREAK_SPACE = "\N{NO-BREAK SPACE}"


@dataclass(frozen=True)
class Measure:
    """How one measurement reads: rounded to what it can tell apart, with its unit. No photo carries a scale in
    millimetres, so sizes are in pixels or a share of the photo; scores carry their scale in the label."""

    label: str
    decimals: int
    unit: str = ""  # after each figure
    percent: bool = False  # a share of 1, written as a percentage
    power: int = 0  # how a size scales with the photo's zoom

    def text(self, value: float) -> str:
        """The figure and its unit joined by no-break spaces: a line never separates them."""
        unit = self.unit.replace(" ", NO_BREAK_SPACE)
        if self.percent:
            return f"{value * 100:.{self.decimals}f}%{unit}"
        return f"{value:.{self.decimals}f}{unit}"


# Measurements (see inference.analysis.change.LesionMeasurements) compared between the last two photos: a ratio for
# sizes, a difference for the 0-1 and colour scales.
PER_PHOTO_SIZES = {
    "area_fraction": Measure("Area", 1, " of the photo", percent=True),
    "longest_diameter_pixels": Measure("Longest diameter", 0, " px"),
}
ALIGNED_SIZES = {
    "area_pixels": Measure("Area", 0, " px²", power=2),
    "longest_diameter_pixels": Measure("Longest diameter", 0, " px", power=1),
}
DIFFERENCE_MEASUREMENTS = {
    "asymmetry": Measure("Asymmetry (0-1)", 2),
    "border_irregularity": Measure("Border irregularity (1 = circle)", 2),
    "colour_variegation": Measure("Colour variation (Delta E)", 1),
}
# Where the worker stored each measurement's change for an aligned pair (inference.analysis.change.LesionChange):
# read, never computed again, so that the pages, emails and PDFs give the figure the change flag was decided on.
ALIGNED_FIGURES = {
    "area_pixels": "area_ratio",
    "longest_diameter_pixels": "diameter_ratio",
    "asymmetry": "asymmetry_change",
    "border_irregularity": "border_irregularity_change",
    "colour_variegation": "colour_variegation_change",
}


@dataclass(frozen=True)
class ClassScore:
    code: str
    name: str
    probability: float


@dataclass(frozen=True)
class MeasuredChange:
    measure: Measure
    before: float
    after: float
    is_ratio: bool
    change: float | None  # after / before for a ratio, after - before otherwise; None where it has no meaning

    @property
    def label(self) -> str:
        return self.measure.label

    @property
    def before_text(self) -> str:
        return self.measure.text(self.before)

    @property
    def after_text(self) -> str:
        return self.measure.text(self.after)

    @property
    def figure(self) -> str:
        """The change in words a reader can check against before and after, e.g. 'x1.32' or '+0.05'."""
        if self.change is None:
            return "n/a"
        return f"x{self.change:.2f}" if self.is_ratio else f"{self.change:+.{self.measure.decimals}f}"


@dataclass(frozen=True)
class PhotoRow:
    image: LesionImage
    prediction: Prediction | None  # None too while the result is withheld from the summary's reader
    top: list[ClassScore]
    result_shown: bool = True

    @property
    def taken_at(self) -> datetime:
        return self.image.captured_at

    @property
    def status_text(self) -> str:
        """What stands in for a missing result."""
        return self.image.get_status_display() if self.result_shown else "Awaiting the clinic's review"


@dataclass(frozen=True)
class SizeRow:
    """A photo's lesion size: relative to the first photo's area (corrected for zoom; None across a break in the
    chain of alignments), and in millimetres where the photo's scale is known."""

    taken_at: datetime
    relative_area: float | None
    size: PhysicalSize | None

    @property
    def relative_text(self) -> str:
        return "n/a" if self.relative_area is None else f"x{self.relative_area:.2f}"

    @property
    def mm_text(self) -> str:
        return "scale unknown" if self.size is None else self.size.text


@dataclass(frozen=True)
class ChangeFlag:
    """The worker's verdict on the last two photos: changed, unchanged or cannot tell, and why
    (inference.analysis.change's rule)."""

    verdict: str
    reasons: list[str]  # what changed
    cannot_tell_reasons: list[str]  # why the photos could not be compared fairly

    @property
    def changed(self) -> bool:
        return self.verdict == CHANGED

    @property
    def cannot_tell(self) -> bool:
        return self.verdict == CANNOT_TELL

    @property
    def sentence(self) -> str:
        """The verdict in words, for the email, the share page and the PDF."""
        if self.changed:
            return "Flagged as changed: " + " ".join(self.reasons)
        if self.cannot_tell:
            return "Cannot tell whether it changed: " + " ".join(self.cannot_tell_reasons)
        return "Not flagged as changed."


@dataclass
class LesionSummary:
    lesion: Lesion
    photos: list[PhotoRow]
    changes: list[MeasuredChange] = field(default_factory=list)
    change_note: str = PER_PHOTO_NOTE
    flag: ChangeFlag | None = None  # only once the pair was aligned and measured
    sizes: list[SizeRow] = field(default_factory=list)
    sender_name: str = ""  # who sent it, when the summary travels in a share

    model_output_heading = MODEL_OUTPUT_HEADING
    size_note = SIZE_NOTE

    @property
    def patient(self):
        return self.lesion.patient

    @property
    def clinic_contact(self) -> str:
        return self.patient.clinic.contact

    @property
    def clinician_name(self) -> str:
        """The clinician to ask about the lesion: who reviewed its newest result the reader sees ('' before any)."""
        return self.review.reviewer_name if self.review is not None else ""

    @property
    def diagnosis(self) -> ConfirmedDiagnosis | None:
        return getattr(self.lesion, "confirmed_diagnosis", None)

    @property
    def review(self) -> PhotoReview | None:
        """The newest review among the photos whose results the reader may see."""
        reviews = [row.image.review for row in self.photos if row.result_shown and row.image.is_reviewed]
        return max(reviews, key=lambda review: review.reviewed_at, default=None)

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


def top_classes(prediction: Prediction | None) -> list[ClassScore]:
    if prediction is None:
        return []
    return [
        ClassScore(code, CLASS_NAMES.get(code, code), float(probability)) for code, probability in prediction.top[:2]
    ]


def measured_changes(
    before: dict, after: dict, *, sizes: dict, zoom: float = 1.0, stored: dict | None = None
) -> list[MeasuredChange]:
    """Before/after rows from two photos' measurements; `zoom` maps the later photo's pixels onto the earlier's.
    Each row's change is the worker's figure from `stored` (an aligned pair's stored change), else worked out from
    the two photos' own measurements."""
    rows = [(key, measure, True) for key, measure in sizes.items()]
    rows += [(key, measure, False) for key, measure in DIFFERENCE_MEASUREMENTS.items()]
    changes = []
    for key, measure, is_ratio in rows:
        earlier, later = before.get(key), after.get(key)
        if isinstance(earlier, int | float) and isinstance(later, int | float):
            earlier, later = float(earlier), float(later) * zoom**measure.power
            if stored is not None:
                change = stored.get(ALIGNED_FIGURES[key])
            elif is_ratio:
                change = later / earlier if earlier else None
            else:
                change = later - earlier
            changes.append(MeasuredChange(measure, earlier, later, is_ratio, change))
    return changes


def describe_change(before: LesionImage, after: LesionImage) -> tuple[list[MeasuredChange], str, ChangeFlag | None]:
    """The change between two photos, its note and flag: the aligned measurement the worker stored when there is
    one, else the two photos' own measurements."""
    aligned = stored_change(before, after)
    if aligned is not None:
        registration = aligned["registration"]
        changes = measured_changes(
            aligned["before"],
            aligned["after"],
            sizes=ALIGNED_SIZES,
            zoom=registration["transform"]["scale"],
            stored=aligned,
        )
        flag = ChangeFlag(
            verdict=verdict_of(aligned),
            reasons=aligned["reasons"],
            cannot_tell_reasons=aligned.get("cannot_tell_reasons", []),
        )
        return changes, ALIGNED_NOTE.format(quality=registration["quality_text"]), flag
    if before.measurements and after.measurements:
        return measured_changes(before.measurements, after.measurements, sizes=PER_PHOTO_SIZES), PER_PHOTO_NOTE, None
    return [], PER_PHOTO_NOTE, None


def summarise_lesion(lesion: Lesion, *, shown_to, images=None) -> LesionSummary:
    """The lesion's photos (all of them, or `images` only) and results as `shown_to` may see them: a patient (or what
    a patient shares) carries only the results their clinic has released; the newest photo's change only once that
    photo's is."""
    images = ResultViewer(shown_to).mark(
        (lesion.images.all() if images is None else images)
        .order_by("captured_at", "id")
        .with_release()
        .prefetch_related(Prefetch("predictions", queryset=Prediction.objects.select_related("model_version")))
    )
    photos = []
    for image in images:
        prediction = image.latest_prediction if image.result_shown else None
        photos.append(
            PhotoRow(image=image, prediction=prediction, top=top_classes(prediction), result_shown=image.result_shown)
        )
    sizes = size_rows(images)
    if len(photos) < 2 or not photos[-1].image.change_shown:
        return LesionSummary(lesion=lesion, photos=photos, sizes=sizes)
    changes, note, flag = describe_change(photos[-2].image, photos[-1].image)
    return LesionSummary(lesion=lesion, photos=photos, changes=changes, change_note=note, flag=flag, sizes=sizes)


def size_rows(images: list[LesionImage]) -> list[SizeRow]:
    """The outlined photos' sizes whose results the reader sees (images marked by ResultViewer)."""
    relative = relative_areas(images)
    return [
        SizeRow(taken_at=image.captured_at, relative_area=relative[image.pk], size=image.size_in_mm)
        for image in images
        if image.result_shown and image.pk in relative
    ]
