from datetime import datetime

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import Max
from django.urls import reverse
from rest_framework import serializers

from lesions import access
from lesions.body_map import site_of_new_lesion
from lesions.models import (
    MAX_MM_PER_PIXEL,
    MIN_MM_PER_PIXEL,
    ConfirmedDiagnosis,
    Lesion,
    LesionImage,
    LesionStatusChange,
    ModelVersion,
    Patient,
    PhotoReview,
    Prediction,
)
from lesions.release import ResultViewer
from lesions.validators import validate_plausible_moment


class PatientSerializer(serializers.ModelSerializer):
    clinic = serializers.PrimaryKeyRelatedField(read_only=True)

    class Meta:
        model = Patient
        fields = ["id", "clinic", *Patient.RECORD_FIELDS, "created_at", "updated_at"]
        read_only_fields = ["created_at", "updated_at"]
        # The (clinic, record number) rule is checked in validate(): the clinic is not a writable field.
        validators = []

    def validate(self, attrs):
        clinic = self.context.get("clinic") or getattr(self.instance, "clinic", None)
        number = attrs.get("medical_record_number")
        both_known = clinic is not None and number is not None
        if both_known and Patient.record_number_taken(clinic=clinic, number=number, excluding=self.instance):
            raise serializers.ValidationError({"medical_record_number": Patient.RECORD_NUMBER_TAKEN})
        return attrs


class PatientSelfServiceSerializer(PatientSerializer):
    """What a patient may change on their own record: only the AI-training opt-out."""

    class Meta(PatientSerializer.Meta):
        read_only_fields = [name for name in PatientSerializer.Meta.fields if name != "ai_training_opt_out"]


class ModelVersionSerializer(serializers.ModelSerializer):
    class Meta:
        model = ModelVersion
        fields = ["id", "name", "version", "sha256", "metrics", "is_active", "created_at"]


class PredictionSerializer(serializers.ModelSerializer):
    model_version = serializers.CharField(source="model_version.version")

    class Meta:
        model = Prediction
        fields = ["model_version", "probabilities", "top", "malignancy", "dx_type", "created_at"]


class PhotoReviewSerializer(serializers.ModelSerializer):
    reviewer_name = serializers.CharField(read_only=True)

    class Meta:
        model = PhotoReview
        fields = ["disposition", "note_to_patient", "reviewed_by", "reviewer_name", "reviewed_at"]
        read_only_fields = ["reviewed_by", "reviewer_name", "reviewed_at"]


class LesionImageSerializer(serializers.ModelSerializer):
    """A photo and, for those who may see it yet, its result: the patient gets `prediction`, `measurements` and
    `change_from_previous` as null until the clinic has reviewed the photo (`result_released`)."""

    # Withheld from a viewer who may not see the result yet.
    RESULT_FIELDS = ("prediction", "measurements", "change_from_previous")

    prediction = PredictionSerializer(source="latest_prediction", read_only=True, allow_null=True)
    review = PhotoReviewSerializer(read_only=True, allow_null=True, default=None)
    result_released = serializers.BooleanField(
        read_only=True, help_text="The patient sees the result: the clinic has reviewed it, or does not review first."
    )
    image_url = serializers.SerializerMethodField()
    thumbnail_url = serializers.SerializerMethodField()

    class Meta:
        model = LesionImage
        fields = [
            "id",
            "lesion",
            "captured_at",
            "modality",
            "created_at",
            "width",
            "height",
            "sha256",
            "status",
            "outline_status",
            "change_status",
            "error",
            "prediction",
            "measurements",
            "change_from_previous",
            "mm_per_pixel",
            "image_url",
            "thumbnail_url",
            "uploaded_by",
            "taken_by_patient",
            "gate_verdict",
            "gate_overridden_at",
            "result_released",
            "review",
        ]
        read_only_fields = fields

    def to_representation(self, image: LesionImage) -> dict:
        data = super().to_representation(image)
        viewer = self.result_viewer()
        if not viewer.sees_result(image):
            data.update(dict.fromkeys(self.RESULT_FIELDS))
        elif not viewer.sees_change(image):
            data["change_from_previous"] = None
        return data

    def result_viewer(self) -> ResultViewer:
        # One viewer per response (a list serializes many photos); without a request nothing unreleased is shown.
        if "result_viewer" not in self.context:
            request = self.context.get("request")
            self.context["result_viewer"] = ResultViewer(request.user if request is not None else None)
        return self.context["result_viewer"]

    def get_image_url(self, image: LesionImage) -> str:
        return reverse("api:image-file", args=[image.pk])

    def get_thumbnail_url(self, image: LesionImage) -> str:
        return reverse("api:image-thumbnail", args=[image.pk])


class LesionImageUploadSerializer(serializers.Serializer):
    image = serializers.FileField(help_text="A JPEG, PNG, WebP or HEIC photo of the lesion.")
    captured_at = serializers.DateTimeField(
        required=False,
        validators=[validate_plausible_moment],
        help_text="When the photo was taken (1900 to tomorrow); default: the photo's EXIF date, else now.",
    )
    modality = serializers.ChoiceField(choices=LesionImage.Modality.choices, default=LesionImage.Modality.DERMOSCOPIC)


class ConfirmedDiagnosisSerializer(serializers.ModelSerializer):
    class Meta:
        model = ConfirmedDiagnosis
        fields = [
            "dx",
            "dx_other",
            "name",
            "training_class",
            "dx_type",
            "confirmed_on",
            "note",
            "recorded_by",
            "recorded_at",
        ]
        read_only_fields = ["name", "training_class", "recorded_by", "recorded_at"]

    name = serializers.CharField(read_only=True, help_text="The diagnosis in words.")
    training_class = serializers.CharField(
        read_only=True, allow_null=True, help_text="The model class it trains; null: left out of training exports."
    )

    def validate(self, attrs):
        try:
            attrs["dx_other"] = ConfirmedDiagnosis.other_named(dx=attrs["dx"], dx_other=attrs.get("dx_other", ""))
        except DjangoValidationError as error:
            raise serializers.ValidationError(error.message_dict) from error
        return attrs


class LesionStatusChangeSerializer(serializers.ModelSerializer):
    class Meta:
        model = LesionStatusChange
        fields = ["status", "note", "changed_by", "changed_at"]
        read_only_fields = ["changed_by", "changed_at"]


class LesionSerializer(serializers.ModelSerializer):
    patient = serializers.PrimaryKeyRelatedField(queryset=Patient.objects.none())
    status_history = LesionStatusChangeSerializer(many=True, read_only=True)
    confirmed_diagnosis = ConfirmedDiagnosisSerializer(read_only=True, allow_null=True)
    follow_up_due_at = serializers.SerializerMethodField(
        help_text="When the next photo is due: follow_up_interval after the latest photo; null without a plan."
    )

    class Meta:
        model = Lesion
        fields = [
            "id",
            "patient",
            "body_site",
            "label",
            "diagram_x",
            "diagram_y",
            "follow_up_interval",
            "follow_up_unit",
            "follow_up_due_at",
            "confirmed_diagnosis",
            "status",
            "status_history",
            "created_at",
        ]
        # The status changes through the status action, which keeps its history.
        read_only_fields = ["status", "created_at"]
        extra_kwargs = {
            "diagram_x": {"min_value": 0, "max_value": 1},
            "diagram_y": {"min_value": 0, "max_value": 1},
            "follow_up_interval": {"min_value": 1, "max_value": 3650},
        }

    def get_fields(self):
        fields = super().get_fields()
        request = self.context.get("request")
        if request is not None:
            fields["patient"].queryset = access.patients_editable_by(request.user)
        return fields

    def get_follow_up_due_at(self, lesion: Lesion) -> datetime | None:
        # The list and detail querysets annotate last_photo_at; a just-saved lesion is looked up.
        last_photo_at = getattr(lesion, "last_photo_at", None)
        if not hasattr(lesion, "last_photo_at"):
            last_photo_at = lesion.images.aggregate(latest=Max("captured_at"))["latest"]
        return lesion.follow_up_due_at(last_photo_at)

    def validate_patient(self, patient: Patient) -> Patient:
        if self.instance is not None and patient.pk != self.instance.patient_id:
            raise serializers.ValidationError("A lesion cannot move to another patient.")
        return patient

    def validate(self, attrs):
        if self.instance is None and "body_site" in attrs:
            attrs["body_site"] = site_of_new_lesion(attrs["body_site"], attrs.get("diagram_x"), attrs.get("diagram_y"))
        return attrs


class LesionTimelineSerializer(LesionSerializer):
    images = LesionImageSerializer(many=True, read_only=True)

    class Meta(LesionSerializer.Meta):
        fields = LesionSerializer.Meta.fields + ["images"]


class PhotoCorrectionSerializer(serializers.Serializer):
    """Move a photo to another lesion of the same patient, correct when it was taken, and/or set its scale."""

    lesion = serializers.IntegerField(
        min_value=1, max_value=2**63 - 1, required=False, source="lesion_id", help_text="Another lesion's id."
    )
    captured_at = serializers.DateTimeField(required=False, help_text="Not in the future, nor before 1900.")
    mm_per_pixel = serializers.FloatField(
        required=False,
        allow_null=True,
        min_value=MIN_MM_PER_PIXEL,
        max_value=MAX_MM_PER_PIXEL,
        help_text="The photo's scale in millimetres per pixel of the stored photo, measured on a ruler or a known "
        "length in it; null forgets it.",
    )

    def validate(self, attrs):
        if not attrs:
            raise serializers.ValidationError(
                "Give the photo's new `lesion`, its `captured_at`, its scale `mm_per_pixel`, or several of them."
            )
        return attrs
