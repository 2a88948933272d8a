from datetime import datetime

from django.db.models import Max
from django.urls import reverse
from rest_framework import serializers

from lesions.models import ConfirmedDiagnosis, Lesion, LesionImage, ModelVersion, Patient, Prediction
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


class LesionImageSerializer(serializers.ModelSerializer):
    prediction = PredictionSerializer(source="latest_prediction", read_only=True, allow_null=True)
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
            "image_url",
            "thumbnail_url",
            "uploaded_by",
            "taken_by_patient",
            "gate_verdict",
            "gate_overridden_at",
        ]
        read_only_fields = fields

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
        fields = ["dx", "dx_type", "confirmed_on", "note", "recorded_by", "recorded_at"]
        read_only_fields = ["recorded_by", "recorded_at"]


class LesionSerializer(serializers.ModelSerializer):
    patient = serializers.PrimaryKeyRelatedField(queryset=Patient.objects.none())
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
            "created_at",
        ]
        read_only_fields = ["created_at"]
        extra_kwargs = {
            "diagram_x": {"min_value": 0, "max_value": 1},
            "diagram_y": {"min_value": 0, "max_value": 1},
            "follow_up_interval": {"min_value": 1, "max_value": 3650},
        }

    def get_fields(self):
        fields = super().get_fields()
        request = self.context.get("request")
        if request is not None:
            fields["patient"].queryset = Patient.objects.editable_by(request.user)
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


class LesionTimelineSerializer(LesionSerializer):
    images = LesionImageSerializer(many=True, read_only=True)

    class Meta(LesionSerializer.Meta):
        fields = LesionSerializer.Meta.fields + ["images"]
