from rest_framework import permissions

from lesions import access
from lesions.models import Patient


class ClinicMemberCanEdit(permissions.BasePermission):
    """Anyone who can see a record may read it; only members of the patient's clinic change or delete it, and
    only a clinic admin deletes a patient's record."""

    message = "Only the patient's clinic can change this record."

    def has_permission(self, request, view):
        if not request.user.is_authenticated:
            return False
        return request.method in permissions.SAFE_METHODS or access.is_clinic_member(request.user)

    def has_object_permission(self, request, view, obj):
        if request.method in permissions.SAFE_METHODS:
            return True
        patient = obj if isinstance(obj, Patient) else obj.patient
        if request.method == "DELETE" and isinstance(obj, Patient):
            self.message = "Only a clinic admin can delete a patient's record."
            return access.can_delete_patient(request.user, patient)
        return access.can_edit_patient(request.user, patient)


# What a patient may change on their own record through the API.
PATIENT_SELF_SERVICE_FIELDS = frozenset({"ai_training_opt_out"})


class ClinicMemberOrOwnPreferences(ClinicMemberCanEdit):
    """As ClinicMemberCanEdit, and a patient may PATCH their own record's AI-training opt-out (nothing else)."""

    def has_permission(self, request, view):
        if super().has_permission(request, view):
            return True
        return request.method == "PATCH" and request.user.is_authenticated and request.user.is_patient

    def has_object_permission(self, request, view, obj):
        if super().has_object_permission(request, view, obj):
            return True
        if request.method == "PATCH" and access.is_own_record(request.user, obj):
            self.message = "A patient may change only their AI-training opt-out here."
            return set(request.data) <= PATIENT_SELF_SERVICE_FIELDS
        return False
