"""What the patient portal records of its own: the invitations clinics send their patients."""

from django.conf import settings
from django.db import models
from django.utils import timezone

from lesions.models import Patient


class Invitation(models.Model):
    """An invitation to the patient portal, as the clinic sent it; the hourly limit on invitations counts these."""

    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="invitations")
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    email = models.EmailField()
    created_at = models.DateTimeField(default=timezone.now)
    notice_sent_at = models.DateTimeField(
        null=True, blank=True, help_text="When the holder of an address already in use was told of the invitation."
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        db_table = "sharing_invitation"  # created by the sharing app, before the portal had an app of its own
        indexes = [models.Index(fields=["invited_by", "created_at"], name="invitation_sender_recent_idx")]

    def __str__(self) -> str:
        return f"{self.patient} invited at {self.email}"
