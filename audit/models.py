from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import models


class AppendOnlyQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise PermissionDenied("The audit trail is append-only.")

    def delete(self):
        raise PermissionDenied("The audit trail is append-only.")


class AppendOnlyModel(models.Model):
    class Meta:
        abstract = True

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise PermissionDenied("The audit trail is append-only.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise PermissionDenied("The audit trail is append-only.")


class AuditEventQuerySet(AppendOnlyQuerySet):
    def readable_by(self, user) -> "AuditEventQuerySet":
        """A clinic admin reads the events of their clinics; superusers read all."""
        if not user.is_authenticated:
            return self.none()
        if user.is_superuser:
            return self
        return self.filter(clinic_id__in=user.clinic_ids(admin=True))

    def about_patient(self, patient_id: int) -> "AuditEventQuerySet":
        """Events on this patient's records, and reads of lists that showed this patient."""
        listed = AuditEventPatient.objects.filter(event=models.OuterRef("pk"), patient_id=patient_id)
        return self.filter(models.Q(patient_id=patient_id) | models.Exists(listed))


class AuditEvent(AppendOnlyModel):
    """Who did what to which patient's data, when, and from where. Rows are only ever added.

    Clinic and patient are plain ids, not foreign keys, so that the trail outlives the records it describes. A read
    of a list (a search, a dashboard, an export) names every patient it showed in `patients`; such an event covers
    one clinic's patients only, so that each clinic's admins read what concerned their own patients.
    """

    class Action(models.TextChoices):
        VIEW = "view", "Viewed"
        CREATE = "create", "Created"
        CHANGE = "change", "Changed"
        DELETE = "delete", "Deleted"
        DOWNLOAD = "download", "Downloaded"
        SHARE = "share", "Shared"
        OPEN_SHARE = "open_share", "Opened a share link"
        EXPORT = "export", "Exported"
        LOGIN = "login", "Signed in"
        LOGIN_FAILED = "login_failed", "Failed sign-in"
        LOGOUT = "logout", "Signed out"

    occurred_at = models.DateTimeField(auto_now_add=True, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    actor_username = models.CharField(max_length=150, blank=True)
    action = models.CharField(max_length=20, choices=Action.choices, db_index=True)
    clinic_id = models.BigIntegerField(null=True, blank=True, db_index=True)
    patient_id = models.BigIntegerField(null=True, blank=True, db_index=True)
    target = models.CharField(max_length=200, blank=True, help_text="What was acted on, e.g. 'lesion 12'.")
    method = models.CharField(max_length=10, blank=True)
    path = models.CharField(max_length=500, blank=True)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=300, blank=True)

    objects = AuditEventQuerySet.as_manager()

    class Meta:
        ordering = ["-occurred_at", "-id"]
        indexes = [models.Index(fields=["clinic_id", "occurred_at"], name="auditevent_clinic_time")]

    def __str__(self) -> str:
        return f"{self.occurred_at:%Y-%m-%d %H:%M} {self.actor_username or 'anonymous'} {self.action} {self.target}"


class AuditEventPatient(AppendOnlyModel):
    """One patient whose data an event's list read, search or export showed."""

    event = models.ForeignKey(AuditEvent, on_delete=models.PROTECT, related_name="patients")
    patient_id = models.BigIntegerField(db_index=True)

    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["event", "patient_id"], name="auditeventpatient_unique")]

    def __str__(self) -> str:
        return f"patient {self.patient_id} in {self.event}"
