from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.db.models import Q

from accounts.models import Clinic, Membership, User


class ClinicScopedChoices:
    """Foreign keys offer, and accept, only the records their own admin shows the user: staff of one clinic cannot
    attach a row to another clinic's patient, or move it to another clinic, by typing an id."""

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        related_admin = self.admin_site._registry.get(db_field.related_model)
        if isinstance(related_admin, ClinicScopedAdmin):
            kwargs.setdefault("queryset", related_admin.get_queryset(request))
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


class ClinicScopedAdmin(ClinicScopedChoices):
    """Admin pages of a clinic's data: superusers see every row, other staff only their clinics' rows (any other
    row's change page answers as for a row that does not exist). `clinic_fields` lead from a row to its clinic."""

    clinic_fields: tuple[str, ...]

    def get_queryset(self, request):
        rows = super().get_queryset(request)
        if request.user.is_superuser:
            return rows
        clinic_ids = request.user.clinic_ids()
        in_clinics = Q.create([(f"{field}__in", clinic_ids) for field in self.clinic_fields], connector=Q.OR)
        # Through a subquery, so that a row reached along several paths (a user in two of the clinics) is listed
        # once and the admin's bulk delete still works on the result.
        return rows.filter(pk__in=rows.model._default_manager.filter(in_clinics).values("pk"))


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
