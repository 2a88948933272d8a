from datetime import timedelta

import django_filters
from django import forms
from rest_framework import permissions, serializers, viewsets

from audit.models import AuditEvent
from audit.services import mark_list_read, mark_target


class IsClinicAdmin(permissions.BasePermission):
    message = "Only a clinic admin can read the audit trail."

    def has_permission(self, request, view):
        user = request.user
        return user.is_authenticated and (user.is_superuser or user.clinic_ids(admin=True).exists())


class AuditEventSerializer(serializers.ModelSerializer):
    patient_ids = serializers.SlugRelatedField(
        source="patients",
        slug_field="patient_id",
        many=True,
        read_only=True,
        help_text="Every patient a list read, search or export showed (`patient_id` names a single record's patient).",
    )

    class Meta:
        model = AuditEvent
        fields = [
            "id",
            "occurred_at",
            "actor",
            "actor_username",
            "action",
            "clinic_id",
            "patient_id",
            "patient_ids",
            "target",
            "method",
            "path",
            "status_code",
            "ip_address",
            "user_agent",
            "changes",
        ]


class AuditEventFilterForm(forms.Form):
    def clean(self):
        cleaned = super().clean()
        for name in ("since", "until"):
            moment = cleaned.get(name)
            # PostgreSQL accepts UTC offsets up to 15:59; anything wider is no real time zone.
            if moment is not None and abs(moment.utcoffset() or timedelta()) >= timedelta(hours=16):
                self.add_error(name, "Give a time with a UTC offset between -15:59 and +15:59.")
        return cleaned


class AuditEventFilter(django_filters.FilterSet):
    since = django_filters.IsoDateTimeFilter(field_name="occurred_at", lookup_expr="gte")
    until = django_filters.IsoDateTimeFilter(field_name="occurred_at", lookup_expr="lt")
    patient_id = django_filters.NumberFilter(
        method="filter_patient",
        label="Events on this patient's records or showing them in a list",
        min_value=1,
        max_value=2**63 - 1,
        decimal_places=0,
    )

    class Meta:
        model = AuditEvent
        form = AuditEventFilterForm
        fields = ["actor", "actor_username", "action", "patient_id", "since", "until"]

    def filter_patient(self, events, name, value):
        return events.about_patient(int(value))


class AuditEventViewSet(viewsets.ReadOnlyModelViewSet):
    """The clinic's audit trail, newest first, for clinic admins."""

    serializer_class = AuditEventSerializer
    permission_classes = [IsClinicAdmin]
    filterset_class = AuditEventFilter

    def get_queryset(self):
        return AuditEvent.objects.readable_by(self.request.user).prefetch_related("patients")


class AuditedViewSetMixin:
    """Names the record each API request acted on, or every record a list answered with, for the audit
    middleware's event."""

    def paginate_queryset(self, queryset):
        page = super().paginate_queryset(queryset)
        listed = page if page is not None else queryset
        mark_list_read(self.request._request, listed, description=f"{queryset.model._meta.verbose_name} list")
        return page

    def get_object(self):
        record = super().get_object()
        mark_target(self.request._request, record)
        return record

    def perform_create(self, serializer):
        super().perform_create(serializer)
        mark_target(self.request._request, serializer.instance)
