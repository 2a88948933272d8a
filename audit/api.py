from datetime import timedelta

import django_filters
from django import forms
from rest_framework import permissions, serializers, viewsets

from accounts.models import Membership
from audit.models import AuditEvent
from audit.services import mark_target


class IsClinicAdmin(permissions.BasePermission):
    message = "Only a clinic admin can read the audit trail."

    def has_permission(self, request, view):
        user = request.user
        return user.is_authenticated and (
            user.is_superuser or Membership.objects.filter(user=user, role=Membership.Role.ADMIN).exists()
        )


class AuditEventSerializer(serializers.ModelSerializer):
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
            "target",
            "method",
            "path",
            "status_code",
            "ip_address",
            "user_agent",
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

    class Meta:
        model = AuditEvent
        form = AuditEventFilterForm
        fields = ["actor", "actor_username", "action", "patient_id", "since", "until"]


class AuditEventViewSet(viewsets.ReadOnlyModelViewSet):
    """The clinic's audit trail, newest first, for clinic admins."""

    serializer_class = AuditEventSerializer
    permission_classes = [IsClinicAdmin]
    filterset_class = AuditEventFilter

    def get_queryset(self):
        return AuditEvent.objects.readable_by(self.request.user)


class AuditedViewSetMixin:
    """Names the record each API request acted on, for the audit middleware's event."""

    def get_object(self):
        record = super().get_object()
        mark_target(self.request._request, record)
        return record

    def perform_create(self, serializer):
        super().perform_create(serializer)
        mark_target(self.request._request, serializer.instance)
