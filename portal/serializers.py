from rest_framework import serializers

from portal.models import Invitation


class InvitationRequestSerializer(serializers.Serializer):
    email = serializers.EmailField(help_text="Where the set-your-password link goes; the patient signs in with it.")


class InvitationSerializer(serializers.ModelSerializer):
    class Meta:
        model = Invitation
        fields = ["id", "patient", "email", "created_at"]
        read_only_fields = fields
