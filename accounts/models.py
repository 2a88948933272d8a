from django.contrib.auth.models import AbstractUser
from django.db import models


class User(AbstractUser):
    """A person who signs in: a clinic member (through Membership) or a patient (through Patient.user)."""

    email = models.EmailField("email address", blank=True)

    @property
    def display_name(self) -> str:
        """The name a reader outside the system recognises: the full name, the username only without one."""
        return self.get_full_name() or self.username

    @property
    def is_patient(self) -> bool:
        return hasattr(self, "patient_record")

    def clinic_ids(self) -> list[int]:
        return list(self.memberships.values_list("clinic_id", flat=True))

    def is_member_of(self, clinic_id: int, *, admin: bool = False) -> bool:
        memberships = self.memberships.filter(clinic_id=clinic_id)
        if admin:
            memberships = memberships.filter(role=Membership.Role.ADMIN)
        return memberships.exists()


class Clinic(models.Model):
    name = models.CharField(max_length=200, unique=True)
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
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

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
