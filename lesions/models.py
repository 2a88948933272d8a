from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from dateutil.relativedelta import relativedelta
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from accounts.models import Clinic
from inference.serving.labels import CLASS_NAMES, CLASSES, DX_TYPES
from lesions.validators import validate_plausible_date, validate_plausible_moment


class PatientQuerySet(models.QuerySet):
    def visible_to(self, user) -> "PatientQuerySet":
        """Clinic members see their clinics' patients; a patient sees only their own record."""
        if not user.is_authenticated:
            return self.none()
        return self.filter(Q(clinic_id__in=user.clinic_ids()) | Q(user=user))

    def editable_by(self, user) -> "PatientQuerySet":
        """The patients of the user's clinics (lesions.access.can_edit_patient is its form for one patient)."""
        if not user.is_authenticated:
            return self.none()
        return self.filter(clinic_id__in=user.clinic_ids())


class Patient(models.Model):
    class Sex(models.TextChoices):
        FEMALE = "female", "Female"
        MALE = "male", "Male"
        OTHER = "other", "Other"
        UNKNOWN = "unknown", "Unknown"

    clinic = models.ForeignKey(Clinic, on_delete=models.PROTECT, related_name="patients")
    medical_record_number = models.CharField(max_length=64)
    first_name = models.CharField(max_length=150)
    last_name = models.CharField(max_length=150)
    date_of_birth = models.DateField(null=True, blank=True, validators=[validate_plausible_date])
    sex = models.CharField(max_length=10, choices=Sex.choices, default=Sex.UNKNOWN)
    family_physician_name = models.CharField(max_length=200, blank=True)
    family_physician_email = models.EmailField(blank=True)
    ai_training_opt_out = models.BooleanField(
        default=False, help_text="The patient's images and confirmed diagnoses are never used to train models."
    )
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="patient_record",
        help_text="The patient's own account, if they have one.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = PatientQuerySet.as_manager()

    # What a clinic records about a patient: the fields its forms and the API both edit.
    RECORD_FIELDS = (
        "medical_record_number",
        "first_name",
        "last_name",
        "date_of_birth",
        "sex",
        "family_physician_name",
        "family_physician_email",
        "ai_training_opt_out",
    )
    RECORD_NUMBER_TAKEN = "Another patient of this clinic already has this record number."

    class Meta:
        ordering = ["last_name", "first_name", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["clinic", "medical_record_number"], name="patient_unique_record_number_per_clinic"
            )
        ]

    def __str__(self) -> str:
        return f"{self.last_name}, {self.first_name} ({self.medical_record_number})"

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}"

    @classmethod
    def record_number_taken(cls, *, clinic, number: str, excluding: "Patient | None" = None) -> bool:
        """Checked before saving, so that a person reads which field to change rather than a database error."""
        others = cls.objects.filter(clinic=clinic, medical_record_number=number)
        if excluding is not None and excluding.pk is not None:
            others = others.exclude(pk=excluding.pk)
        return others.exists()


class BodySite(models.TextChoices):
    """HAM10000's localization vocabulary, so that our records and the training data speak alike."""

    ABDOMEN = "abdomen", "Abdomen"
    ACRAL = "acral", "Acral (palms, soles, nails)"
    BACK = "back", "Back"
    CHEST = "chest", "Chest"
    EAR = "ear", "Ear"
    FACE = "face", "Face"
    FOOT = "foot", "Foot"
    GENITAL = "genital", "Genital"
    HAND = "hand", "Hand"
    LOWER_EXTREMITY = "lower extremity", "Lower extremity"
    NECK = "neck", "Neck"
    SCALP = "scalp", "Scalp"
    TRUNK = "trunk", "Trunk"
    UPPER_EXTREMITY = "upper extremity", "Upper extremity"
    UNKNOWN = "unknown", "Unknown"


class LesionStatus(models.TextChoices):
    """Where the lesion stands in the clinic's care."""

    MONITORING = "monitoring", "Monitoring"
    REFERRED = "referred", "Referred"
    BIOPSIED = "biopsied", "Biopsied"
    EXCISED = "excised", "Excised"
    CLOSED = "closed", "Closed"


# A lesion that is gone or no longer followed: off the attention list, no photo reminders.
ENDED_STATUSES = (LesionStatus.EXCISED, LesionStatus.CLOSED)


# A deleted photo or lesion can be restored by a clinic admin for this long; then it is purged with its files.
RESTORABLE_FOR = timedelta(days=30)


class SoftDeleteQuerySet(models.QuerySet):
    def deleted(self):
        return self.filter(deleted_at__isnull=False)

    def restorable(self, *, now: datetime):
        return self.filter(deleted_at__gt=now - RESTORABLE_FOR)

    def purgeable(self, *, now: datetime):
        return self.filter(deleted_at__lte=now - RESTORABLE_FOR)


class LiveManager(models.Manager):
    """The records nobody deleted: every page, API answer, list, count and task reads through this one; only
    restoring and purging use `with_deleted`."""

    def get_queryset(self):
        return super().get_queryset().filter(deleted_at__isnull=True)


class LesionQuerySet(SoftDeleteQuerySet):
    def visible_to(self, user) -> "LesionQuerySet":
        return self.filter(patient__in=Patient.objects.visible_to(user))

    def still_followed(self) -> "LesionQuerySet":
        return self.exclude(status__in=ENDED_STATUSES)


class FollowUpUnit(models.TextChoices):
    DAYS = "days", "Days"
    MONTHS = "months", "Months"


class Lesion(models.Model):
    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="lesions")
    body_site = models.CharField(max_length=32, choices=BodySite.choices)
    label = models.CharField(max_length=200, blank=True, help_text="A name the clinic uses, e.g. 'left shoulder, A'.")
    diagram_x = models.FloatField(null=True, blank=True, help_text="Position on the body diagram, 0 (left) to 1.")
    diagram_y = models.FloatField(null=True, blank=True, help_text="Position on the body diagram, 0 (top) to 1.")
    follow_up_interval = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="Photograph the lesion again this long after its latest photo; empty: no plan."
    )
    follow_up_unit = models.CharField(max_length=10, choices=FollowUpUnit.choices, default=FollowUpUnit.MONTHS)
    follow_up_reminded_at = models.DateTimeField(
        null=True, blank=True, help_text="When the patient was last reminded that a new photo is due."
    )
    status = models.CharField(
        max_length=20, choices=LesionStatus.choices, default=LesionStatus.MONITORING, db_index=True
    )
    created_at = models.DateTimeField(auto_now_add=True)
    deleted_at = models.DateTimeField(null=True, blank=True, db_index=True)
    deleted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    objects = LiveManager.from_queryset(LesionQuerySet)()
    with_deleted = LesionQuerySet.as_manager()

    class Meta:
        ordering = ["patient", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(diagram_x__isnull=True) | Q(diagram_x__gte=0, diagram_x__lte=1),
                name="lesion_diagram_x_in_unit_range",
            ),
            models.CheckConstraint(
                condition=Q(diagram_y__isnull=True) | Q(diagram_y__gte=0, diagram_y__lte=1),
                name="lesion_diagram_y_in_unit_range",
            ),
            models.CheckConstraint(
                condition=Q(follow_up_interval__isnull=True) | Q(follow_up_interval__gte=1),
                name="lesion_follow_up_interval_positive",
            ),
            models.CheckConstraint(condition=Q(status__in=LesionStatus.values), name="lesion_status_known"),
            models.CheckConstraint(
                condition=Q(deleted_at__isnull=False) | Q(deleted_by__isnull=True),
                name="lesion_deleted_by_only_if_deleted",
            ),
        ]

    def __str__(self) -> str:
        return self.label or f"{self.get_body_site_display()} lesion #{self.pk}"

    @property
    def is_ended(self) -> bool:
        return self.status in ENDED_STATUSES

    def follow_up_due_at(self, last_photo_at: datetime | None) -> datetime | None:
        """When the next photo is due: the interval after the latest photo (or after the lesion was recorded, if it
        has none yet); None without a follow-up plan."""
        if not self.follow_up_interval:
            return None
        interval = relativedelta(**{self.follow_up_unit: self.follow_up_interval})
        try:
            return (last_photo_at or self.created_at) + interval
        except (OverflowError, ValueError):
            # A photo dated near the calendar's end (stored before dates were bounded) is never followed up:
            # the due date is the last moment there is, rather than an error on every page that lists it.
            return datetime.max.replace(tzinfo=UTC)

    def follow_up_overdue_since(
        self, last_photo_at: datetime | None, *, now: datetime | None = None
    ) -> datetime | None:
        """When the next photo was due, if it is late by `now`; None when it is not yet due, there is no plan, or
        the lesion is no longer followed (excised or closed). The one definition reminders and pages share."""
        if self.is_ended:
            return None
        due_at = self.follow_up_due_at(last_photo_at)
        return due_at if due_at is not None and due_at <= (now or timezone.now()) else None


class LesionStatusChange(models.Model):
    """One step of a lesion's status history: append-only, newest last."""

    lesion = models.ForeignKey(Lesion, on_delete=models.CASCADE, related_name="status_history")
    status = models.CharField(max_length=20, choices=LesionStatus.choices)
    note = models.TextField(blank=True)
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    changed_at = models.DateTimeField()

    class Meta:
        ordering = ["changed_at", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(status__in=LesionStatus.values), name="lesionstatuschange_status_known")
        ]

    def __str__(self) -> str:
        return f"{self.lesion}: {self.get_status_display()} on {self.changed_at:%Y-%m-%d}"


@dataclass(frozen=True)
class PhysicalSize:
    area_mm2: float
    diameter_mm: float | None

    @property
    def text(self) -> str:
        """E.g. '28.3 mm², longest diameter 6.1 mm'."""
        diameter = "" if self.diameter_mm is None else f", longest diameter {self.diameter_mm:.1f} mm"
        return f"{self.area_mm2:.1f} mm²{diameter}"


class LesionImageQuerySet(SoftDeleteQuerySet):
    def visible_to(self, user) -> "LesionImageQuerySet":
        return self.filter(lesion__in=Lesion.objects.visible_to(user))

    def reviewable_by(self, user) -> "LesionImageQuerySet":
        """Photos of the patients of the user's clinics."""
        return self.filter(lesion__patient__in=Patient.objects.editable_by(user))

    def unreviewed(self) -> "LesionImageQuerySet":
        newer_result = Prediction.objects.filter(image=OuterRef("pk"), created_at__gt=OuterRef("review__reviewed_at"))
        return self.filter(Q(review__isnull=True) | Exists(newer_result))

    def in_review_queue(self) -> "LesionImageQuerySet":
        """Photos waiting for a person at the clinic, oldest first: not yet reviewed (see LesionImage.is_reviewed),
        or with a flagged change not yet acknowledged."""
        unacknowledged_flag = self.filter(change_from_previous__changed=True, change_acknowledgement__isnull=True)
        return (self.unreviewed() | unacknowledged_flag).order_by("created_at", "id")

    def with_release(self) -> "LesionImageQuerySet":
        """What `result_released` reads, in the same query."""
        return self.select_related(
            "review__reviewed_by", "change_acknowledgement__acknowledged_by", "lesion__patient__clinic"
        )


# A calibration line is at most MAX_CALIBRATION_MM long and at least MIN_CALIBRATION_PIXELS: the scales it can give.
MAX_CALIBRATION_MM = 200
MIN_CALIBRATION_PIXELS = 10
MAX_MM_PER_PIXEL = MAX_CALIBRATION_MM / MIN_CALIBRATION_PIXELS
MIN_MM_PER_PIXEL = 1e-4


class LesionImage(models.Model):
    class Modality(models.TextChoices):
        DERMOSCOPIC = "dermoscopic", "Dermoscopic"
        CLINICAL = "clinical", "Clinical (plain camera)"

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"
        GATED = "gated", "Held back by the photo check"

    lesion = models.ForeignKey(Lesion, on_delete=models.CASCADE, related_name="images")
    image = models.FileField(upload_to="lesion-images/")
    thumbnail = models.FileField(upload_to="lesion-thumbnails/")
    captured_at = models.DateTimeField(db_index=True, validators=[validate_plausible_moment])
    modality = models.CharField(max_length=20, choices=Modality.choices, default=Modality.DERMOSCOPIC)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    sha256 = models.CharField(max_length=64, help_text="Checksum of the stored image file.")
    mask = models.FileField(upload_to="lesion-masks/", blank=True, help_text="The lesion's segmentation, a PNG.")
    measurements = models.JSONField(
        null=True, blank=True, help_text="Area, diameter, asymmetry, border and colour measured on the mask."
    )
    change_from_previous = models.JSONField(
        null=True,
        blank=True,
        help_text="The change measured from the lesion's previous photo (its id is `before_id`), by the worker.",
    )
    mm_per_pixel = models.FloatField(
        null=True,
        blank=True,
        validators=[MinValueValidator(MIN_MM_PER_PIXEL), MaxValueValidator(MAX_MM_PER_PIXEL)],
        help_text="The photo's scale, from a line a clinician drew over a ruler or a known length on it.",
    )
    # Each stage of the photo's processing has its state: classification (`status`, the classifier's queue), then
    # the lesion's outline and its change from the previous photo (the analysis queue), so that a worker killed
    # mid-way leaves a visible, resumable state instead of a photo `done` without its outline.
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED, db_index=True)
    outline_status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    change_status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    stage_changed_at = models.DateTimeField(
        default=timezone.now, help_text="When a stage of this photo's processing last changed state."
    )
    resent_stages = models.JSONField(
        default=list, blank=True, help_text="Stages the safety net sent again after a worker left them undone."
    )
    error = models.TextField(blank=True)
    taken_by_patient = models.BooleanField(
        default=False, help_text="Uploaded by the patient from home rather than taken at the clinic."
    )
    gate_verdict = models.JSONField(
        null=True,
        blank=True,
        help_text="The photo check before the classifier (inference.gate): passed, or the reasons it held the "
        "photo back and a prompt to retake.",
    )
    gate_overridden_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    gate_overridden_at = models.DateTimeField(
        null=True, blank=True, help_text="When a clinician asked for the model's answer on a photo held back."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    deleted_at = models.DateTimeField(null=True, blank=True, db_index=True)
    deleted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    objects = LiveManager.from_queryset(LesionImageQuerySet)()
    with_deleted = LesionImageQuerySet.as_manager()

    # Set per viewer by lesions.release.ResultViewer.mark; a page that forgot to mark shows no result (fails closed).
    result_shown = False
    change_shown = False

    class Meta:
        ordering = ["captured_at", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=["queued", "running", "done", "failed", "gated"])
                & Q(outline_status__in=["queued", "running", "done", "failed"])
                & Q(change_status__in=["queued", "running", "done", "failed"]),
                name="lesionimage_stage_states_known",
            ),
            models.CheckConstraint(
                condition=Q(deleted_at__isnull=False) | Q(deleted_by__isnull=True),
                name="lesionimage_deleted_by_only_if_deleted",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.lesion} on {self.captured_at:%Y-%m-%d}"

    @property
    def is_processing(self) -> bool:
        """A stage of the photo's processing is still to come (pages keep asking for the photo until none is)."""
        unfinished = (self.Status.QUEUED, self.Status.RUNNING)
        return any(state in unfinished for state in (self.status, self.outline_status, self.change_status))

    @property
    def failed_photo_check(self) -> bool:
        """The photo check held this photo back (whether or not a clinician then asked for the answer anyway)."""
        return self.gate_verdict is not None and not self.gate_verdict["passed"]

    @property
    def gate_reasons(self) -> list[str]:
        return [reason["message"] for reason in (self.gate_verdict or {}).get("reasons", [])]

    @property
    def result_released(self) -> bool:
        """The patient may see this photo's result (prediction, measurements, change flag): once a clinician of
        the clinic has reviewed it, or at once where the clinic does not review first."""
        return self.is_reviewed or not self.lesion.patient.clinic.review_before_release

    @property
    def is_reviewed(self) -> bool:
        """A clinician reviewed the photo after its latest result: a result that arrives later (a re-analysis)
        waits for a new review."""
        if not hasattr(self, "review"):
            return False
        return all(prediction.created_at <= self.review.reviewed_at for prediction in self.predictions.all())

    @property
    def change_flagged(self) -> bool:
        return bool(self.change_from_previous and self.change_from_previous.get("changed"))

    @property
    def change_awaits_acknowledgement(self) -> bool:
        return self.change_flagged and not hasattr(self, "change_acknowledgement")

    @property
    def scale_mm_per_pixel(self) -> float | None:
        """Millimetres per pixel of the stored photo: the clinician's calibration, else, for a dermoscopic photo,
        the clinic's dermatoscope field of view across the photo's width; None where the scale is unknown."""
        if self.mm_per_pixel:
            return self.mm_per_pixel
        field_of_view = self.lesion.patient.clinic.dermatoscope_field_of_view_mm
        if field_of_view and self.modality == self.Modality.DERMOSCOPIC and self.width:
            return field_of_view / self.width
        return None

    @property
    def size_in_mm(self) -> "PhysicalSize | None":
        """The lesion's area and longest diameter in millimetres, where the outline and the scale are known."""
        scale = self.scale_mm_per_pixel
        measured = self.measurements or {}
        if scale is None or not measured.get("area_pixels"):
            return None
        diameter = measured.get("longest_diameter_pixels")
        return PhysicalSize(
            area_mm2=measured["area_pixels"] * scale**2, diameter_mm=None if diameter is None else diameter * scale
        )

    @property
    def latest_prediction(self) -> "Prediction | None":
        # Iterating the prefetched predictions avoids a query per image in lists.
        return max(self.predictions.all(), key=lambda prediction: prediction.created_at, default=None)


class Disposition(models.TextChoices):
    """What the clinic plans after reviewing a photo."""

    ROUTINE = "routine", "Routine follow-up"
    SOONER = "sooner", "Sooner follow-up"
    SEE_IN_CLINIC = "see_in_clinic", "See in clinic"
    BIOPSY = "biopsy", "Biopsy or excision"


class PhotoReview(models.Model):
    """A clinician's review of a photo's result: what the clinic plans, and what the patient is told."""

    image = models.OneToOneField(LesionImage, on_delete=models.CASCADE, related_name="review")
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    reviewed_at = models.DateTimeField()
    disposition = models.CharField(max_length=20, choices=Disposition.choices)
    note_to_patient = models.TextField(
        blank=True, help_text="Shown to the patient with the result: plain words, no abbreviations."
    )

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(disposition__in=Disposition.values),
                name="photoreview_disposition_known",
            )
        ]

    def __str__(self) -> str:
        return f"{self.image} reviewed: {self.get_disposition_display()}"

    @property
    def reviewer_name(self) -> str:
        return self.reviewed_by.display_name if self.reviewed_by is not None else "a clinician"


class ChangeAcknowledgement(models.Model):
    """A clinician has looked at a photo's flagged change: the flag leaves the review queue."""

    image = models.OneToOneField(LesionImage, on_delete=models.CASCADE, related_name="change_acknowledgement")
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    acknowledged_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"Change on {self.image} acknowledged"


# What a confirmed diagnosis can be: the model's 7 classes, then results of real pathology they do not name as
# such. Each maps to the HAM10000 class its training data files it under, or to none (then it is not exported).
CONFIRMED_DIAGNOSES = (
    *((code, CLASS_NAMES[code].capitalize(), code) for code in CLASSES),
    ("scc", "Squamous cell carcinoma (invasive)", None),  # HAM10000's akiec holds only carcinoma in situ
    ("mel_in_situ", "Melanoma in situ", "mel"),
    ("atypical_nv", "Atypical (dysplastic) naevus", "nv"),
    ("sk", "Seborrhoeic keratosis", "bkl"),
    ("other", "Other (name it)", None),
)
TRAINING_CLASS = {code: model_class for code, _, model_class in CONFIRMED_DIAGNOSES}


class ConfirmedDiagnosis(models.Model):
    """What the lesion turned out to be (e.g. by histopathology): ground truth that models can learn from."""

    Diagnosis = models.TextChoices(
        "Diagnosis", [(code.upper(), (code, label)) for code, label, _ in CONFIRMED_DIAGNOSES]
    )
    OTHER = "other"

    class Confirmation(models.TextChoices):
        HISTO = "histo", "Histopathology"
        FOLLOW_UP = "follow_up", "Follow-up without change"
        CONSENSUS = "consensus", "Expert consensus"
        CONFOCAL = "confocal", "Confocal microscopy"

    lesion = models.OneToOneField(Lesion, on_delete=models.CASCADE, related_name="confirmed_diagnosis")
    dx = models.CharField("diagnosis", max_length=20, choices=Diagnosis.choices)
    dx_other = models.CharField(
        "other diagnosis", max_length=200, blank=True, help_text="The diagnosis in words, when it is 'Other'."
    )
    dx_type = models.CharField("confirmed by", max_length=10, choices=Confirmation.choices)
    confirmed_on = models.DateField(validators=[validate_plausible_date])
    note = models.TextField(blank=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    recorded_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "confirmed diagnoses"
        constraints = [
            models.CheckConstraint(condition=Q(dx__in=list(TRAINING_CLASS)), name="confirmeddiagnosis_dx_known"),
            models.CheckConstraint(condition=Q(dx_type__in=DX_TYPES), name="confirmeddiagnosis_dx_type_known"),
            models.CheckConstraint(
                condition=(Q(dx="other") & ~Q(dx_other="")) | (~Q(dx="other") & Q(dx_other="")),
                name="confirmeddiagnosis_other_named_only_for_other",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.get_dx_type_display()}, {self.confirmed_on})"

    @property
    def name(self) -> str:
        return self.dx_other if self.dx == self.OTHER else self.get_dx_display()

    @property
    def training_class(self) -> str | None:
        """The model class this diagnosis trains, or None when it is none of them."""
        return TRAINING_CLASS[self.dx]

    @classmethod
    def other_named(cls, *, dx: str, dx_other: str) -> str:
        """The free-text diagnosis to store: required for 'Other', dropped for the rest."""
        if dx != cls.OTHER:
            return ""
        if not dx_other.strip():
            raise ValidationError({"dx_other": "Name the diagnosis when it is 'Other'."})
        return dx_other.strip()

    def clean(self):
        self.dx_other = self.other_named(dx=self.dx, dx_other=self.dx_other)


class ModelVersion(models.Model):
    """A shipped classifier; every prediction names the one that made it."""

    name = models.CharField(max_length=100)
    version = models.CharField(max_length=100, unique=True)
    sha256 = models.CharField(max_length=64, help_text="Checksum of the serving model file.")
    file_path = models.CharField(
        max_length=500, blank=True, help_text="The serving (.onnx) file; empty: found by version among the shipped."
    )
    metrics = models.JSONField(default=dict, blank=True, help_text="Validation figures from the model card.")
    is_active = models.BooleanField(default=False, help_text="The version the worker serves to new photos.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["is_active"], condition=Q(is_active=True), name="modelversion_single_active"
            )
        ]

    def __str__(self) -> str:
        return f"{self.name} {self.version}"


class Prediction(models.Model):
    image = models.ForeignKey(LesionImage, on_delete=models.CASCADE, related_name="predictions")
    model_version = models.ForeignKey(ModelVersion, on_delete=models.PROTECT, related_name="predictions")
    probabilities = models.JSONField(help_text="The 7 HAM10000 classes' probabilities.")
    top = models.JSONField(help_text="The two most likely classes as [class, probability] pairs.")
    malignancy = models.FloatField(help_text="P(mel) + P(bcc) + P(akiec).")
    dx_type = models.JSONField(help_text="How such a diagnosis is usually confirmed, as probabilities.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["image", "model_version"], name="prediction_unique_image_model_version"),
            models.CheckConstraint(
                condition=Q(malignancy__gte=0, malignancy__lte=1.000001), name="prediction_malignancy_in_unit_range"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.image_id} by {self.model_version}"
