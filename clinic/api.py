from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.fields import get_error_detail
from rest_framework.response import Response
from rest_framework.settings import api_settings

from accounts.models import Clinic, Membership
from accounts.services import change_role, deactivate_member
from audit.api import IsClinicAdmin
from audit.models import AuditEvent
from clinic.services import invite_colleague, mark_staff_change


class StaffMemberSerializer(serializers.ModelSerializer):
    username = serializers.CharField(source="user.username", read_only=True)
    email = serializers.EmailField(source="user.email", read_only=True)
    name = serializers.CharField(source="user.get_full_name", read_only=True)
    is_active = serializers.BooleanField(source="user.is_active", read_only=True)
    has_password = serializers.BooleanField(
        source="user.has_usable_password", read_only=True, help_text="False until the invited member chooses one."
    )

    class Meta:
        model = Membership
        fields = ["id", "clinic", "user", "username", "email", "name", "role", "is_active", "has_password"]
        read_only_fields = ["clinic", "user"]


class StaffInvitationSerializer(serializers.Serializer):
    email = serializers.EmailField(max_length=150)
    role = serializers.ChoiceField(choices=Membership.Role.choices, default=Membership.Role.CLINICIAN)
    clinic = serializers.PrimaryKeyRelatedField(
        queryset=Clinic.objects.all(), required=False, help_text="Needed only by an admin of several clinics."
    )

    def validate_clinic(self, clinic):
        if not self.context["request"].user.is_member_of(clinic.pk, admin=True):
            raise serializers.ValidationError("You are not an admin of this clinic.")
        return clinic

    def validate(self, data):
        if "clinic" not in data:
            clinics = Clinic.objects.filter(
                memberships__user=self.context["request"].user, memberships__role=Membership.Role.ADMIN
            )
            if len(clinics) != 1:
                raise serializers.ValidationError({"clinic": "Name the clinic: you are an admin of several."})
            data["clinic"] = clinics[0]
        return data


class StaffRoleSerializer(serializers.Serializer):
    role = serializers.ChoiceField(choices=Membership.Role.choices)


class IsStaffManager(IsClinicAdmin):
    message = "Only a clinic admin manages the clinic's staff."


def answer_refusal(call):
    """A service's refusal as the API answers one: 400 with the reason, by field where it names one."""
    try:
        return call()
    except DjangoValidationError as error:
        detail = get_error_detail(error)
        by_field = detail if isinstance(detail, dict) else {api_settings.NON_FIELD_ERRORS_KEY: detail}
        raise serializers.ValidationError(by_field) from error


class StaffViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """The staff of the clinics the caller is an admin of: invite a colleague, change a role, deactivate an
    account. Clinic admins only; another clinic's members are not found (404)."""

    serializer_class = StaffMemberSerializer
    permission_classes = [IsStaffManager]

    def get_queryset(self):
        # By id: the schema generator asks as an anonymous user, who administers nothing.
        administered = Membership.objects.filter(user_id=self.request.user.pk, role=Membership.Role.ADMIN)
        return (
            Membership.objects.filter(clinic__in=administered.values("clinic"))
            .select_related("user")
            .order_by("clinic_id", "user__username")
        )

    @extend_schema(
        request=StaffInvitationSerializer,
        responses={201: StaffMemberSerializer},
        description="Creates the colleague's account, without a password, and emails them a link to choose one; "
        "they sign in with their email address.",
    )
    def create(self, request):
        body = StaffInvitationSerializer(data=request.data, context={"request": request})
        body.is_valid(raise_exception=True)
        membership = answer_refusal(lambda: invite_colleague(invited_by=request.user, **body.validated_data))
        mark_staff_change(
            request._request, membership, change=f"invited as {membership.role}", action=AuditEvent.Action.CREATE
        )
        return Response(self.get_serializer(membership).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        request=StaffRoleSerializer,
        responses=StaffMemberSerializer,
        description="Changes the member's role; 400 when it would leave the clinic without an active admin.",
    )
    def partial_update(self, request, pk=None):
        membership = self.get_object()
        body = StaffRoleSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        role = body.validated_data["role"]
        membership = answer_refusal(lambda: change_role(membership=membership, role=role, changed_by=request.user))
        mark_staff_change(request._request, membership, change=f"role {role}", action=AuditEvent.Action.CHANGE)
        return Response(self.get_serializer(membership).data)

    @extend_schema(
        request=None,
        responses=StaffMemberSerializer,
        description="The member's account stops working at once: no sign-in, and its API tokens and sessions end. "
        "400 for the clinic's last active admin, or an account another clinic also uses.",
    )
    @action(detail=True, methods=["post"])
    def deactivate(self, request, pk=None):
        membership = self.get_object()
        answer_refusal(lambda: deactivate_member(membership=membership, deactivated_by=request.user))
        mark_staff_change(request._request, membership, change="deactivated", action=AuditEvent.Action.CHANGE)
        return Response(self.get_serializer(self.get_queryset().get(pk=membership.pk)).data)
