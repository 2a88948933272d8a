from rest_framework import permissions

from accounts.models import Membership


class ClinicMemberCanEdit(permissions.BasePermission):
    """Anyone who can see a record may read it; only members of the patient's clinic change it,
    and only a clinic admin deletes a patient's record."""

    message = "Only the patient's clinic can change this record."

    def has_permission(self, request, view):
        if not request.user.is_authenticated:
            return False
        return request.method in permissions.SAFE_METHODS or Membership.objects.filter(user=request.user).exists()

    def has_object_permission(self, request, view, obj):
        if request.method in permissions.SAFE_METHODS:
            return True
        clinic_id = obj.clinic_id if hasattr(obj, "clinic_id") else obj.patient.clinic_id
        memberships = Membership.objects.filter(user=request.user, clinic_id=clinic_id)
        if request.method == "DELETE":
            self.message = "Only a clinic admin can delete a patient's record."
            memberships = memberships.filter(role=Membership.Role.ADMIN)
        return memberships.exists()
