from django.contrib import admin

from audit.models import AuditEvent
from audit.services import mark_list_read, mark_target


class AuditedModelAdmin(admin.ModelAdmin):
    """Admin pages of patient data reach the audit trail like the clinic's pages: a list names every patient it
    showed, a record its patient."""

    def changelist_view(self, request, extra_context=None):
        response = super().changelist_view(request, extra_context)
        changelist = (getattr(response, "context_data", None) or {}).get("cl")
        if changelist is not None:
            mark_list_read(request, changelist.result_list, description=f"admin {self.opts.verbose_name} list")
        return response

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        response = super().changeform_view(request, object_id, form_url, extra_context)
        record = (getattr(response, "context_data", None) or {}).get("original")
        if record is not None:
            # A successful save redirects (Django's LogEntry records it); this is a read, or a save refused.
            viewed = request.method in ("GET", "HEAD")
            mark_target(request, record, action=AuditEvent.Action.VIEW if viewed else AuditEvent.Action.CHANGE)
        return response


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    list_display = ["occurred_at", "actor_username", "action", "target", "patient_id", "status_code", "ip_address"]
    list_filter = ["action", "occurred_at"]
    search_fields = ["actor_username", "target", "path", "ip_address"]
    date_hierarchy = "occurred_at"

    def get_queryset(self, request):
        return super().get_queryset(request).readable_by(request.user)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
