from django.contrib import admin

from accounts.admin import ClinicScopedAdmin
from audit.admin import AuditedModelAdmin
from sharing.models import Share, ShareOpening


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class ShareOpeningInline(ReadOnlyInline):
    model = ShareOpening
    fields = ["opened_at", "resource", "outcome", "ip_address", "user_agent"]
    readonly_fields = fields


@admin.register(Share)
class ShareAdmin(ClinicScopedAdmin, AuditedModelAdmin):
    clinic_fields = ("lesion__patient__clinic",)
    list_display = [
        "lesion",
        "recipient_email",
        "created_by",
        "created_at",
        "expires_at",
        "revoked_at",
        "delivery_status",
    ]
    list_filter = [
        "delivery_status",
        ("lesion__patient__clinic", admin.RelatedOnlyFieldListFilter),
        "attach_pdf",
        "attach_images",
    ]
    search_fields = ["recipient_email", "recipient_name", "lesion__label", "lesion__patient__last_name"]
    raw_id_fields = ["lesion", "created_by", "revoked_by"]
    # The photos a share was sent with are a record of what left the clinic: shown, never changed.
    readonly_fields = ["delivery_status", "delivery_error", "delivery_attempts", "sent_at", "created_at", "images"]
    inlines = [ShareOpeningInline]


@admin.register(ShareOpening)
class ShareOpeningAdmin(ClinicScopedAdmin, AuditedModelAdmin):
    """Append-only: an opening is evidence, so nobody edits or deletes it here."""

    clinic_fields = ("share__lesion__patient__clinic",)
    list_display = ["share", "opened_at", "resource", "outcome", "ip_address"]
    list_filter = ["outcome", "resource", ("share__lesion__patient__clinic", admin.RelatedOnlyFieldListFilter)]
    search_fields = ["share__recipient_email", "ip_address", "user_agent"]
    date_hierarchy = "opened_at"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
