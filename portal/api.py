from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.exceptions import PermissionDenied
from rest_framework.response import Response
from rest_framework.views import APIView

from audit.services import mark_target
from lesions import access
from lesions.models import Patient
from portal.invitations import invite_patient
from portal.serializers import InvitationRequestSerializer, InvitationSerializer
from sharing.api import within_send_limit


class PatientInviteView(APIView):
    @extend_schema(
        request=InvitationRequestSerializer,
        responses={
            202: InvitationSerializer,
            429: OpenApiResponse(description="Too many invitations from this user this hour"),
        },
        summary="Invite a patient to the portal",
        description=(
            "Creates the patient's account without a usable password and emails a set-your-password link. An "
            "address an account outside the clinic already uses gets the same answer (no clinic learns who has an "
            "account elsewhere); its holder is emailed instead."
        ),
    )
    def post(self, request, pk: int):
        patient = get_object_or_404(Patient.objects.visible_to(request.user), pk=pk)
        mark_target(request._request, patient)
        if not access.can_edit_patient(request.user, patient):
            # Permission before validation: a patient learns nothing from how their request was malformed.
            raise PermissionDenied("Only the patient's clinic can invite them.")
        body = InvitationRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        invitation = within_send_limit(
            lambda: invite_patient(patient=patient, invited_by=request.user, email=body.validated_data["email"])
        )
        return Response(InvitationSerializer(invitation).data, status.HTTP_202_ACCEPTED)
