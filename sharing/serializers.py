from rest_framework import serializers

from sharing.models import Share, ShareOpening
from sharing.services import DEFAULT_EXPIRY_DAYS, MAX_EXPIRY_DAYS


class ShareRequestSerializer(serializers.Serializer):
    to = serializers.EmailField(
        required=False, allow_blank=True, help_text="Default: the patient's family physician on file."
    )
    message = serializers.CharField(required=False, allow_blank=True, max_length=5000)
    expires_in_days = serializers.IntegerField(min_value=1, max_value=MAX_EXPIRY_DAYS, default=DEFAULT_EXPIRY_DAYS)
    attach_pdf = serializers.BooleanField(default=False)
    attach_images = serializers.BooleanField(default=False)


class ShareSerializer(serializers.ModelSerializer):
    state = serializers.ChoiceField(choices=["active", "revoked", "expired"], read_only=True)
    opening_count = serializers.IntegerField(read_only=True, default=0)
    last_opened_at = serializers.DateTimeField(read_only=True, default=None)
    images = serializers.PrimaryKeyRelatedField(
        many=True, read_only=True, help_text="The photos the share was sent with: its link shows these only."
    )

    class Meta:
        model = Share
        fields = [
            "id",
            "lesion",
            "recipient_email",
            "recipient_name",
            "message",
            "attach_pdf",
            "attach_images",
            "images",
            "created_by",
            "created_at",
            "expires_at",
            "revoked_at",
            "state",
            "delivery_status",
            "delivery_error",
            "delivery_attempts",
            "sent_at",
            "opening_count",
            "last_opened_at",
        ]
        read_only_fields = fields


class ShareVisitSerializer(serializers.ModelSerializer):
    """When the link was opened and what it answered: what a patient sees of their doctor's visits."""

    class Meta:
        model = ShareOpening
        fields = ["opened_at", "resource", "outcome"]
        read_only_fields = fields


class ShareOpeningSerializer(ShareVisitSerializer):
    """A visit with where it came from, for the clinic that has to judge whether a link leaked."""

    class Meta(ShareVisitSerializer.Meta):
        fields = ShareVisitSerializer.Meta.fields + ["ip_address", "user_agent"]
        read_only_fields = fields


class ShareDetailSerializer(ShareSerializer):
    openings = ShareOpeningSerializer(many=True, read_only=True)

    class Meta(ShareSerializer.Meta):
        fields = ShareSerializer.Meta.fields + ["openings"]
        read_only_fields = fields


class ShareVisitsSerializer(ShareDetailSerializer):
    """A share as its patient sees it: the visit times, not the visitor's address or browser."""

    openings = ShareVisitSerializer(many=True, read_only=True)
