from django.contrib import admin

from accounts.admin import ClinicScopedAdmin, ClinicScopedChoices
from audit.admin import AuditedModelAdmin
from lesions.models import ConfirmedDiagnosis, Lesion, LesionImage, ModelVersion, Patient, Prediction


class LesionInline(ClinicScopedChoices, admin.TabularInline):
    model = Lesion
    extra = 0
    fields = ["body_site", "label", "created_at"]
    readonly_fields = ["created_at"]
    show_change_link = True


@admin.register(Patient)
class PatientAdmin(ClinicScopedAdmin, AuditedModelAdmin):
    clinic_fields = ("clinic",)
    list_display = ["last_name", "first_name", "medical_record_number", "clinic", "date_of_birth", "created_at"]
    list_filter = [("clinic", admin.RelatedOnlyFieldListFilter), "sex", "ai_training_opt_out"]
    search_fields = ["last_name", "first_name", "medical_record_number", "family_physician_email"]
    raw_id_fields = ["user"]
    inlines = [LesionInline]


class LesionImageInline(admin.TabularInline):
    model = LesionImage
    extra = 0
    fields = ["captured_at", "modality", "status", "width", "height"]
    readonly_fields = fields
    can_delete = False
    show_change_link = True


@admin.register(Lesion)
class LesionAdmin(ClinicScopedAdmin, AuditedModelAdmin):
    clinic_fields = ("patient__clinic",)
    list_display = ["__str__", "patient", "body_site", "created_at"]
    list_filter = ["body_site", ("patient__clinic", admin.RelatedOnlyFieldListFilter)]
    search_fields = ["label", "patient__last_name", "patient__medical_record_number"]
    raw_id_fields = ["patient"]
    inlines = [LesionImageInline]


class PredictionInline(admin.TabularInline):
    model = Prediction
    extra = 0
    fields = ["model_version", "malignancy", "top", "created_at"]
    readonly_fields = fields
    can_delete = False


@admin.register(LesionImage)
class LesionImageAdmin(ClinicScopedAdmin, AuditedModelAdmin):
    clinic_fields = ("lesion__patient__clinic",)
    list_display = ["id", "lesion", "captured_at", "modality", "status", "created_at"]
    list_filter = ["status", "modality", ("lesion__patient__clinic", admin.RelatedOnlyFieldListFilter)]
    search_fields = ["lesion__label", "lesion__patient__last_name", "lesion__patient__medical_record_number", "sha256"]
    raw_id_fields = ["lesion", "uploaded_by"]
    readonly_fields = ["image", "thumbnail", "width", "height", "sha256", "status", "error", "created_at"]
    inlines = [PredictionInline]


@admin.register(ModelVersion)
class ModelVersionAdmin(admin.ModelAdmin):
    list_display = ["name", "version", "is_active", "created_at"]
    list_filter = ["is_active"]
    search_fields = ["name", "version", "sha256"]


@admin.register(Prediction)
class PredictionAdmin(ClinicScopedAdmin, AuditedModelAdmin):
    clinic_fields = ("image__lesion__patient__clinic",)
    list_display = ["image", "model_version", "malignancy", "created_at"]
    list_filter = ["model_version"]
    raw_id_fields = ["image"]


@admin.register(ConfirmedDiagnosis)
class ConfirmedDiagnosisAdmin(ClinicScopedAdmin, AuditedModelAdmin):
    clinic_fields = ("lesion__patient__clinic",)
    list_display = ["lesion", "dx", "dx_type", "confirmed_on", "recorded_by", "recorded_at"]
    list_filter = ["dx", "dx_type", ("lesion__patient__clinic", admin.RelatedOnlyFieldListFilter)]
    search_fields = ["lesion__label", "lesion__patient__last_name", "lesion__patient__medical_record_number", "note"]
    raw_id_fields = ["lesion", "recorded_by"]
