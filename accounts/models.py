from datetime import timedelta

from django.conf import settings
from django.contrib.auth import SESSION_KEY
from django.contrib.auth.models import AbstractUser
from django.contrib.sessions.models import Session
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Min, Q
from django.utils import timezone


class User(AbstractUser):
    """A person who signs in: a clinic member (through Membership) or a patient (through Patient.user)."""

    email = models.EmailField("email address", blank=True)

    def save(self, *args, **kwargs):
        # set_password() keeps the new password in _password until the save: a changed or reset password, or a
        # deactivated account, ends every API token (pages' sessions end through Django's session hash).
        ends_tokens = self._password is not None or not self.is_active
        super().save(*args, **kwargs)
        if ends_tokens:
            self.revoke_api_tokens()

    def revoke_api_tokens(self) -> int:
        """Delete the user's API tokens; returns how many there were."""
        deleted, _ = self.auth_token_set.all().delete()
        return deleted

    def end_sessions(self) -> int:
        """Delete the user's signed-in sessions (kept in the database, Django's default session engine); returns how
        many there were. A session names its user only inside its encoded data, hence the reading of each."""
        live = Session.objects.filter(expire_date__gt=timezone.now())
        signed_in = [
            session.pk for session in live.iterator() if session.get_decoded().get(SESSION_KEY) == str(self.pk)
        ]
        deleted, _ = Session.objects.filter(pk__in=signed_in).delete()
        return deleted

    @property
    def display_name(self) -> str:
        """The name a reader outside the system recognises: the full name, the username only without one."""
        return self.get_full_name() or self.username

    @property
    def is_patient(self) -> bool:
        return hasattr(self, "patient_record")

    def inactivity_timeout(self) -> timedelta:
        """How long a signed-in session may sit idle: the shortest of the user's clinics' settings (members', or a
        patient's own clinic's); SKINTRACK_INACTIVITY_TIMEOUT_MINUTES for a user of no clinic."""
        clinics = Clinic.objects.filter(Q(memberships__user=self) | Q(patients__user=self))
        minutes = clinics.aggregate(shortest=Min("inactivity_timeout_minutes"))["shortest"]
        return timedelta(minutes=minutes or settings.SKINTRACK_INACTIVITY_TIMEOUT_MINUTES)

    def clinic_ids(self, *, admin: bool = False) -> models.QuerySet:
        """The ids of the clinics the user is a member of (an admin of, with `admin`). Lazy, so that it serves as a
        subquery (`clinic_id__in=`) as well as a list: the one definition of membership the access rules use."""
        memberships = self.memberships.all()
        if admin:
            memberships = memberships.filter(role=Membership.Role.ADMIN)
        return memberships.values_list("clinic_id", flat=True)

    def is_member_of(self, clinic_id: int, *, admin: bool = False) -> bool:
        return self.clinic_ids(admin=admin).filter(clinic_id=clinic_id).exists()

    @property
    def administers_a_clinic(self) -> bool:
        return self.clinic_ids(admin=True).exists()


class Clinic(models.Model):
    name = models.CharField(max_length=200, unique=True)
    inactivity_timeout_minutes = models.PositiveSmallIntegerField(
        default=30, help_text="Members and patients are signed out after this long without activity (1 to 600)."
    )
    review_before_release = models.BooleanField(
        default=True,
        help_text="A photo's result reaches the patient only after a clinician of the clinic has reviewed it.",
    )
    contact_phone = models.CharField(max_length=50, blank=True, help_text="For doctors who receive a share.")
    contact_email = models.EmailField(blank=True, help_text="For doctors who receive a share.")
    allow_email_attachments = models.BooleanField(
        default=False,
        help_text="Shares may attach the photos and the PDF report to the email itself, which is not encrypted "
        "end to end and cannot be withdrawn; the link can.",
    )
    dermatoscope_field_of_view_mm = models.FloatField(
        null=True,
        blank=True,
        validators=[MinValueValidator(1), MaxValueValidator(100)],
        help_text="The width of skin, in millimetres, that the clinic's dermatoscope shows across a photo: it gives "
        "dermoscopic photos a size in millimetres (1 to 100; blank: unknown).",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(inactivity_timeout_minutes__gte=1, inactivity_timeout_minutes__lte=600),
                name="clinic_inactivity_timeout_in_range",
            )
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def contact(self) -> str:
        """The clinic as a doctor outside it reaches it: name, phone, email."""
        return " · ".join(part for part in (self.name, self.contact_phone, self.contact_email) if part)


class Membership(models.Model):
    """A user's place in a clinic; the clinic's patients are visible to its members only."""

    class Role(models.TextChoices):
        ADMIN = "admin", "Clinic admin"
        CLINICIAN = "clinician", "Clinician"

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="memberships")
    clinic = models.ForeignKey(Clinic, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=20, choices=Role.choices, default=Role.CLINICIAN)
    photo_digest = models.BooleanField(
        default=False, help_text="Email the member once a day about photos the clinic's patients sent from home."
    )
    photo_digest_sent_at = models.DateTimeField(
        null=True, blank=True, help_text="The last digest's time: the next covers the photos that arrived after it."
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "clinic"], name="membership_unique_user_clinic")]

    def __str__(self) -> str:
        return f"{self.user} ({self.get_role_display()}, {self.clinic})"
