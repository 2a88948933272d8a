"""Sharing API: share a lesion, list and revoke shares, invite a patient to the portal. Objects outside the
caller's view answer 404, as everywhere in the API."""

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import Throttled
from rest_framework.response import Response
from rest_framework.views import APIView

from audit.api import AuditedViewSetMixin
from audit.models import AuditEvent
from audit.services import mark_target
from lesions import access
from lesions.models import Lesion
from sharing.models import Share
from sharing.serializers import (
    ShareDetailSerializer,
    ShareRequestSerializer,
    ShareSerializer,
    ShareVisitsSerializer,
)
from sharing.services import SendLimitReached, revoke_share, share_lesion


def within_send_limit(call):
    """Run a service call that sends email, answering a sender over the hour's limit with 429."""
    try:
        return call()
    except SendLimitReached as error:
        raise Throttled(wait=error.retry_after, detail=str(error)) from error


def visible_shares(user):
    return Share.objects.visible_to(user).with_opening_stats().select_related("lesion").prefetch_related("images")


class LesionShareView(APIView):
    @extend_schema(
        request=ShareRequestSerializer,
        responses={202: ShareSerializer, 429: OpenApiResponse(description="Too many shares from this user this hour")},
        summary="Share a lesion by email",
        description=(
            "Emails a summary and a signed, expiring, read-only link (sent by the worker; follow `delivery_status`). "
            "`to` defaults to the patient's family physician; without one on file the answer is 400."
        ),
    )
    def post(self, request, pk: int):
        lesion = get_object_or_404(Lesion.objects.visible_to(request.user).select_related("patient"), pk=pk)
        mark_target(request._request, lesion, action=AuditEvent.Action.SHARE)
        body = ShareRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        share = within_send_limit(lambda: share_lesion(lesion=lesion, shared_by=request.user, **body.validated_data))
        return Response(ShareSerializer(visible_shares(request.user).get(pk=share.pk)).data, status.HTTP_202_ACCEPTED)


class ShareViewSet(AuditedViewSetMixin, viewsets.ReadOnlyModelViewSet):
    """Shares of the lesions the caller may see: the clinic's patients', or a patient's own."""

    filterset_fields = ["lesion", "delivery_status"]

    def get_queryset(self):
        shares = visible_shares(self.request.user)
        return shares.prefetch_related("openings") if self.action == "retrieve" else shares

    def get_serializer_class(self):
        return ShareDetailSerializer if self.action == "retrieve" else ShareSerializer

    @extend_schema(
        responses=ShareDetailSerializer,
        description="Each opening's address and browser are shown to the patient's clinic only; the patient sees "
        "when the link was opened.",
    )
    def retrieve(self, request, *args, **kwargs):
        share = self.get_object()
        for_clinic = access.can_edit_patient(request.user, share.lesion.patient)
        serializer = (ShareDetailSerializer if for_clinic else ShareVisitsSerializer)(share)
        return Response(serializer.data)

    @extend_schema(request=None, responses=ShareSerializer, summary="Withdraw a share's link (it then answers 410)")
    @action(detail=True, methods=["post"])
    def revoke(self, request, pk=None):
        share = self.get_object()
        request._request.audit_action = AuditEvent.Action.CHANGE
        share = revoke_share(share=share, revoked_by=request.user)
        return Response(ShareSerializer(self.get_queryset().get(pk=share.pk)).data)
