from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin

from accounts.models import Clinic, Membership, User
from lesions.admin import ClinicScopedAdmin, ClinicScopedChoices

# What only a superuser grants: staff of a clinic must not make themselves (or anyone) staff or superuser.
PRIVILEGE_FIELDS = ("is_staff", "is_superuser", "groups", "user_permissions")


class MembershipInline(ClinicScopedChoices, admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ["clinic"]


@admin.register(User)
class UserAdmin(ClinicScopedAdmin, BaseUserAdmin):
    """Staff of a clinic see its members and its patients' accounts."""

    clinic_fields = ("memberships__clinic", "patient_record__clinic")
    inlines = [MembershipInline]
    list_display = ["username", "email", "first_name", "last_name", "is_active", "is_staff", "last_login"]
    list_filter = [
        "is_active",
        "is_staff",
        "memberships__role",
        ("memberships__clinic", admin.RelatedOnlyFieldListFilter),
    ]

    def get_readonly_fields(self, request, obj=None):
        readonly = super().get_readonly_fields(request, obj)
        return readonly if request.user.is_superuser else (*readonly, *PRIVILEGE_FIELDS)


@admin.register(Clinic)
class ClinicAdmin(ClinicScopedAdmin, admin.ModelAdmin):
    clinic_fields = ("pk",)
    list_display = [
        "name",
        "inactivity_timeout_minutes",
        "review_before_release",
        "allow_email_attachments",
        "created_at",
    ]
    search_fields = ["name"]
    inlines = [MembershipInline]


@admin.register(Membership)
class MembershipAdmin(ClinicScopedAdmin, admin.ModelAdmin):
    clinic_fields = ("clinic",)
    list_display = ["user", "clinic", "role", "created_at"]
    list_filter = ["role", ("clinic", admin.RelatedOnlyFieldListFilter)]
    search_fields = ["user__username", "user__email", "clinic__name"]
    autocomplete_fields = ["user", "clinic"]
