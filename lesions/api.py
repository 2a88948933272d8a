from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from django.db.models import Max, Prefetch, Q
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response

from audit.api import AuditedViewSetMixin
from audit.models import AuditEvent
from audit.services import mark_target
from lesions import access, presenters
from lesions.models import Lesion, LesionImage, ModelVersion, Patient
from lesions.permissions import ClinicMemberCanEdit, ClinicMemberOrOwnPreferences
from lesions.presenters import images_with_predictions, stored_file_response
from lesions.serializers import (
    ConfirmedDiagnosisSerializer,
    LesionImageSerializer,
    LesionImageUploadSerializer,
    LesionSerializer,
    LesionStatusChangeSerializer,
    LesionTimelineSerializer,
    ModelVersionSerializer,
    PatientSelfServiceSerializer,
    PatientSerializer,
    PhotoCorrectionSerializer,
    PhotoReviewSerializer,
)
from lesions.services import (
    acknowledge_change,
    add_lesion_image,
    change_lesion_status,
    classify_held_back_photo,
    clinic_for_new_patient,
    confirm_diagnosis,
    correct_photo,
    delete_lesion,
    delete_photo,
    restorable_for,
    restore_lesion,
    restore_photo,
    review_photo,
    set_photo_scale,
    update_lesion,
    update_patient,
)

CLINIC_ID = serializers.IntegerField(min_value=1, max_value=2**63 - 1)


class ComparisonQuerySerializer(serializers.Serializer):
    before = serializers.IntegerField(
        min_value=1, max_value=2**63 - 1, source="before_id", help_text="Id of one photo of the lesion."
    )
    after = serializers.IntegerField(
        min_value=1, max_value=2**63 - 1, source="after_id", help_text="Id of another photo of the lesion."
    )


class ComparisonQueuedSerializer(serializers.Serializer):
    status = serializers.CharField(help_text="`queued`: the worker will measure the pair; ask again.")
    before_id = serializers.IntegerField()
    after_id = serializers.IntegerField()


class PatientViewSet(AuditedViewSetMixin, viewsets.ModelViewSet):
    serializer_class = PatientSerializer
    permission_classes = [ClinicMemberOrOwnPreferences]
    filterset_fields = ["medical_record_number"]
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    def get_queryset(self):
        return Patient.objects.visible_to(self.request.user)

    def get_serializer_class(self):
        # A patient changing their own record gets a serializer where only their preferences are writable.
        user = self.request.user
        if self.action == "partial_update" and user.is_authenticated and not access.is_clinic_member(user):
            return PatientSelfServiceSerializer
        return PatientSerializer

    def get_serializer_context(self):
        context = super().get_serializer_context()
        # The schema generator builds serializers without a signed-in user: there is no clinic to find then.
        if self.action == "create" and not getattr(self, "swagger_fake_view", False):
            context["clinic"] = self.new_patient_clinic()
        return context

    def new_patient_clinic(self):
        """The clinic named by the optional `clinic` id (needed only by members of several clinics)."""
        named = self.request.data.get("clinic")
        try:
            clinic_id = None if named in (None, "") else CLINIC_ID.run_validation(named)
        except serializers.ValidationError as error:
            raise serializers.ValidationError({"clinic": error.detail}) from error
        return clinic_for_new_patient(user=self.request.user, clinic_id=clinic_id)

    def perform_create(self, serializer):
        serializer.save(clinic=serializer.context["clinic"])

    def perform_update(self, serializer):
        if serializer.__class__ is PatientSelfServiceSerializer:
            serializer.save()
            return
        fields = serializer.validated_data
        correction = update_patient(patient=serializer.instance, changed_by=self.request.user, fields=fields)
        serializer.instance = correction.record
        mark_target(self.request._request, correction.record, changes=correction.changes)


class LesionViewSet(
    AuditedViewSetMixin,
    mixins.CreateModelMixin,
    mixins.RetrieveModelMixin,
    mixins.UpdateModelMixin,
    mixins.DestroyModelMixin,
    mixins.ListModelMixin,
    viewsets.GenericViewSet,
):
    serializer_class = LesionSerializer
    permission_classes = [ClinicMemberCanEdit]
    filterset_fields = ["patient", "body_site"]
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    def get_queryset(self):
        if self.action == "restore":
            return restorable_for(Lesion, user=self.request.user)
        lesions = (
            Lesion.objects.visible_to(self.request.user)
            .select_related("patient", "confirmed_diagnosis")
            .prefetch_related("status_history")
            .annotate(last_photo_at=Max("images__captured_at", filter=Q(images__deleted_at__isnull=True)))
            # An aggregate drops the model's default ordering; pages must stay stable.
            .order_by(*Lesion._meta.ordering)
        )
        if self.action == "timeline":
            lesions = lesions.prefetch_related(
                Prefetch("images", queryset=images_with_predictions(LesionImage.objects.order_by("captured_at", "id")))
            )
        return lesions

    def perform_update(self, serializer):
        """Through the service, so that a moved pin sets the body site and the change is audited."""
        fields = serializer.validated_data
        correction = update_lesion(lesion=serializer.instance, changed_by=self.request.user, fields=fields)
        serializer.instance = correction.record
        mark_target(self.request._request, correction.record, changes=correction.changes)

    @extend_schema(description="Delete the lesion and its photos; a clinic admin can restore them within 30 days.")
    def destroy(self, request, *args, **kwargs):
        return super().destroy(request, *args, **kwargs)

    def perform_destroy(self, instance):
        correction = delete_lesion(lesion=instance, deleted_by=self.request.user)
        mark_target(self.request._request, instance, changes=correction.changes)

    @extend_schema(
        request=None,
        responses=LesionSerializer,
        description="A clinic admin restores a lesion deleted within 30 days, with the photos deleted with it.",
    )
    @action(detail=True, methods=["post"])
    def restore(self, request, pk=None):
        lesion = self.get_object()
        correction = restore_lesion(lesion=lesion, restored_by=request.user)
        mark_target(request._request, lesion, changes=correction.changes)
        return Response(self.get_serializer(Lesion.objects.get(pk=lesion.pk)).data)

    @extend_schema(request=ConfirmedDiagnosisSerializer, responses=ConfirmedDiagnosisSerializer)
    @action(detail=True, methods=["post"])
    def diagnosis(self, request, pk=None):
        """Record or correct the lesion's confirmed diagnosis (e.g. a histopathology result)."""
        lesion = self.get_object()
        body = ConfirmedDiagnosisSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        diagnosis = confirm_diagnosis(lesion=lesion, recorded_by=request.user, **body.validated_data)
        return Response(ConfirmedDiagnosisSerializer(diagnosis).data)

    @extend_schema(
        request=LesionStatusChangeSerializer,
        responses=LesionSerializer,
        description="Move the lesion to a new status (monitoring, referred, biopsied, excised, closed), recorded in "
        "its history. Excised and closed lesions leave the attention list and get no photo reminders.",
    )
    @action(detail=True, methods=["post"])
    def status(self, request, pk=None):
        lesion = self.get_object()
        body = LesionStatusChangeSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        change_lesion_status(lesion=lesion, changed_by=request.user, **body.validated_data)
        return Response(self.get_serializer(self.get_queryset().get(pk=lesion.pk)).data)

    @extend_schema(responses=LesionTimelineSerializer)
    @action(detail=True)
    def timeline(self, request, pk=None):
        return Response(LesionTimelineSerializer(self.get_object(), context=self.get_serializer_context()).data)

    @extend_schema(
        parameters=[ComparisonQuerySerializer],
        responses={200: OpenApiTypes.OBJECT, 202: ComparisonQueuedSerializer},
        description="The change between two photos of the lesion (the same JSON as a photo's "
        "`change_from_previous`: verdict changed, unchanged or cannot_tell, with reasons). The worker measures a "
        "pair on the analysis queue: until it has, the answer is 202 with status `queued`; ask again.",
    )
    @action(detail=True)
    def compare(self, request, pk=None):
        lesion = self.get_object()
        query = ComparisonQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        before, after = presenters.chronological_pair(lesion, **query.validated_data)
        change = presenters.change_or_queue(before, after)
        if change is None:
            queued = {"status": "queued", "before_id": before.pk, "after_id": after.pk}
            return Response(ComparisonQueuedSerializer(queued).data, status=status.HTTP_202_ACCEPTED)
        return Response(change)

    @extend_schema(
        request=LesionImageUploadSerializer,
        responses={201: LesionImageSerializer},
        description="The patient's clinic, or the patient for their own lesion (marked `taken_by_patient`).",
    )
    @action(
        detail=True,
        methods=["post"],
        parser_classes=[MultiPartParser, FormParser],
        # add_lesion_image decides who may add a photo: the clinic, or the patient to their own lesion.
        permission_classes=[IsAuthenticated],
    )
    def images(self, request, pk=None):
        lesion = self.get_object()
        upload = LesionImageUploadSerializer(data=request.data)
        upload.is_valid(raise_exception=True)
        try:
            image = add_lesion_image(
                lesion=lesion,
                upload=upload.validated_data["image"],
                uploaded_by=request.user,
                modality=upload.validated_data["modality"],
                captured_at=upload.validated_data.get("captured_at"),
            )
        except DjangoValidationError as error:
            # A refused photo is named in a message of its own: answer it under the field it came in.
            if not hasattr(error, "error_dict"):
                raise DjangoValidationError({"image": error.messages}) from error
            raise
        mark_target(request._request, image)
        return Response(
            LesionImageSerializer(image, context=self.get_serializer_context()).data, status=status.HTTP_201_CREATED
        )


class LesionImageViewSet(
    AuditedViewSetMixin, mixins.UpdateModelMixin, mixins.DestroyModelMixin, viewsets.ReadOnlyModelViewSet
):
    serializer_class = LesionImageSerializer
    filterset_fields = ["lesion", "status"]
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    def get_queryset(self):
        if self.action == "restore":
            return restorable_for(LesionImage, user=self.request.user)
        return images_with_predictions(LesionImage.objects.visible_to(self.request.user))

    @extend_schema(
        request=PhotoCorrectionSerializer,
        responses=LesionImageSerializer,
        description="The patient's clinic moves the photo to another lesion of the same patient and/or corrects "
        "when it was taken (the changes measured against it are measured again), and/or sets its scale "
        "(`mm_per_pixel`, which gives its sizes in millimetres).",
    )
    def partial_update(self, request, pk=None):
        image = self.get_object()
        body = PhotoCorrectionSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        fields = dict(body.validated_data)
        changes = {}
        with transaction.atomic():
            if "mm_per_pixel" in fields:
                scale = fields.pop("mm_per_pixel")
                changes |= set_photo_scale(image=image, changed_by=request.user, mm_per_pixel=scale).changes
            if fields:
                changes |= correct_photo(image=image, changed_by=request.user, **fields).changes
        mark_target(request._request, image, changes=changes)
        return Response(self.get_serializer(self.get_queryset().get(pk=image.pk)).data)

    @extend_schema(description="The patient's clinic deletes the photo; a clinic admin can restore it within 30 days.")
    def destroy(self, request, *args, **kwargs):
        return super().destroy(request, *args, **kwargs)

    def perform_destroy(self, instance):
        correction = delete_photo(image=instance, deleted_by=self.request.user)
        mark_target(self.request._request, instance, changes=correction.changes)

    @extend_schema(
        request=None,
        responses=LesionImageSerializer,
        description="A clinic admin restores a photo deleted within 30 days (its lesion must not be deleted).",
    )
    @action(detail=True, methods=["post"])
    def restore(self, request, pk=None):
        image = self.get_object()
        correction = restore_photo(image=image, restored_by=request.user)
        mark_target(request._request, image, changes=correction.changes)
        return Response(self.get_serializer(images_with_predictions(LesionImage.objects).get(pk=image.pk)).data)

    @extend_schema(
        request=PhotoReviewSerializer,
        responses=LesionImageSerializer,
        description="A clinician of the patient's clinic reviews the photo's result, which releases it to the "
        "patient; reviewing again corrects the review. 400 while the analysis is still running.",
    )
    @action(detail=True, methods=["post"])
    def review(self, request, pk=None):
        image = self.get_object()
        body = PhotoReviewSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        review_photo(image=image, reviewed_by=request.user, **body.validated_data)
        return Response(self.get_serializer(self.get_queryset().get(pk=image.pk)).data)

    @extend_schema(
        request=None,
        responses=LesionImageSerializer,
        description="A clinician of the patient's clinic acknowledges the change flagged on the photo, which takes "
        "it off the review queue; 400 when no change is flagged.",
    )
    @action(detail=True, methods=["post"])
    def acknowledge(self, request, pk=None):
        image = self.get_object()
        acknowledge_change(image=image, acknowledged_by=request.user)
        return Response(self.get_serializer(self.get_queryset().get(pk=image.pk)).data)

    @extend_schema(responses=LesionImageSerializer(many=True))
    @action(detail=False, url_path="review-queue")
    def review_queue(self, request):
        """The caller's clinics' photos waiting for a person, oldest first: not yet reviewed, or with a flagged
        change not yet acknowledged. Clinic members only."""
        if not access.is_clinic_member(request.user):
            raise PermissionDenied("Only clinic members have a review queue.")
        waiting = images_with_predictions(access.images_reviewable_by(request.user).in_review_queue())
        page = self.paginate_queryset(waiting)
        return self.get_paginated_response(self.get_serializer(page, many=True).data)

    @extend_schema(responses={(200, "image/jpeg"): bytes})
    @action(detail=True)
    def file(self, request, pk=None):
        image = self.get_object()
        mark_target(request._request, image, action=AuditEvent.Action.DOWNLOAD)
        return stored_file_response(image.image)

    @extend_schema(responses={(200, "image/jpeg"): bytes})
    @action(detail=True)
    def thumbnail(self, request, pk=None):
        return stored_file_response(self.get_object().thumbnail)

    @extend_schema(
        request=None,
        responses={202: LesionImageSerializer},
        description="Queue a photo the photo check held back (status `gated`) for classification anyway; the "
        "patient's clinic only. 409 when the photo is not held back.",
    )
    @action(detail=True, methods=["post"], url_path="classify-anyway")
    def classify_anyway(self, request, pk=None):
        image = self.get_object()
        try:
            image = classify_held_back_photo(image=image, requested_by=request.user)
        except DjangoValidationError as error:
            return Response({"detail": " ".join(error.messages)}, status=status.HTTP_409_CONFLICT)
        return Response(LesionImageSerializer(image).data, status=status.HTTP_202_ACCEPTED)


class ModelVersionViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = ModelVersionSerializer
    queryset = ModelVersion.objects.all()
