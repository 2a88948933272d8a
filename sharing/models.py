"""A lesion shared by email with a doctor outside the clinic, and every time its link was opened."""

import secrets

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from lesions.models import Lesion, LesionImage
from lesions.summary import LesionSummary, summarise_lesion


def new_nonce() -> str:
    return secrets.token_urlsafe(18)


class ShareQuerySet(models.QuerySet):
    def visible_to(self, user) -> "ShareQuerySet":
        """A clinic sees its patients' shares; a patient sees the shares of their own record."""
        return self.filter(lesion__in=Lesion.objects.visible_to(user))

    def with_opening_stats(self) -> "ShareQuerySet":
        # Django leaves Meta.ordering out of aggregating queries: order explicitly.
        # An opening is a view of the share's page: the photos and report it pulls in are logged, not counted.
        views = Q(openings__resource="page", openings__outcome="served")
        stats = self.annotate(
            opening_count=models.Count("openings", filter=views),
            last_opened_at=models.Max("openings__opened_at", filter=views),
        )
        return stats.order_by("-created_at", "-id")


class Share(models.Model):
    class Delivery(models.TextChoices):
        QUEUED = "queued", "Queued"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Not sent: revoked first"

    lesion = models.ForeignKey(Lesion, on_delete=models.CASCADE, related_name="shares")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="shares_created"
    )
    recipient_email = models.EmailField()
    recipient_name = models.CharField(max_length=200, blank=True)
    message = models.TextField(blank=True, help_text="The sender's note, quoted in the email.")
    attach_pdf = models.BooleanField(default=False)
    attach_images = models.BooleanField(default=False)
    nonce = models.CharField(max_length=32, default=new_nonce, editable=False, help_text="Random part of the link.")
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    delivery_status = models.CharField(max_length=10, choices=Delivery.choices, default=Delivery.QUEUED)
    delivery_error = models.TextField(blank=True, help_text="The mail server's answer to the last failed attempt.")
    delivery_attempts = models.PositiveSmallIntegerField(default=0)
    sent_at = models.DateTimeField(null=True, blank=True)
    images = models.ManyToManyField(
        LesionImage,
        related_name="shares",
        blank=True,
        help_text="The photos the lesion had when it was shared: the email and the link show these only.",
    )

    objects = ShareQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["nonce"], name="share_unique_nonce"),
            models.CheckConstraint(
                condition=Q(expires_at__gt=models.F("created_at")), name="share_expires_after_creation"
            ),
            models.CheckConstraint(
                condition=Q(delivery_status__in=["queued", "sent", "failed", "cancelled"]),
                name="share_delivery_status_known",
            ),
            models.CheckConstraint(
                condition=Q(sent_at__isnull=True) | Q(delivery_status="sent"), name="share_sent_at_only_when_sent"
            ),
        ]
        indexes = [models.Index(fields=["created_by", "created_at"], name="share_sender_recent_idx")]

    def __str__(self) -> str:
        return f"{self.lesion} to {self.recipient_email}"

    @property
    def is_revoked(self) -> bool:
        return self.revoked_at is not None

    @property
    def is_expired(self) -> bool:
        return self.expires_at <= timezone.now()

    @property
    def is_active(self) -> bool:
        return not self.is_revoked and not self.is_expired

    @property
    def state(self) -> str:
        if self.is_revoked:
            return "revoked"
        return "expired" if self.is_expired else "active"

    def summary(self) -> LesionSummary:
        """What the share carries: the photos it was sent with, with what its sender could see of them (a patient's
        share, only released results), not photos added since."""
        summary = summarise_lesion(self.lesion, shown_to=self.created_by, images=self.images.all())
        summary.sender_name = self.sender_name
        return summary

    @property
    def sender_name(self) -> str:
        """The sender as the recipient knows them: the patient by name, a clinician by full name, never a username."""
        sender, patient = self.created_by, self.lesion.patient
        if sender is not None and sender.pk == patient.user_id:
            return patient.full_name
        if sender is not None and sender.get_full_name():
            return sender.get_full_name()
        return f"a clinician of {patient.clinic}"


class ShareOpening(models.Model):
    """One request through a share link, refused ones included: an append-only record of who looked, and when."""

    class Resource(models.TextChoices):
        PAGE = "page", "Page"
        IMAGE = "image", "Image"
        REPORT = "report", "PDF report"

    class Outcome(models.TextChoices):
        SERVED = "served", "Served"
        REVOKED = "revoked", "Refused: revoked"
        EXPIRED = "expired", "Refused: expired"
        NOT_FOUND = "not_found", "Refused: not part of the share"

    share = models.ForeignKey(Share, on_delete=models.CASCADE, related_name="openings")
    opened_at = models.DateTimeField(default=timezone.now, db_index=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=500, blank=True)
    resource = models.CharField(max_length=10, choices=Resource.choices, default=Resource.PAGE)
    outcome = models.CharField(max_length=10, choices=Outcome.choices, default=Outcome.SERVED)

    class Meta:
        ordering = ["-opened_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(resource__in=["page", "image", "report"]), name="shareopening_resource_known"
            ),
            models.CheckConstraint(
                condition=Q(outcome__in=["served", "revoked", "expired", "not_found"]),
                name="shareopening_outcome_known",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.share} opened {self.opened_at:%Y-%m-%d %H:%M} ({self.get_outcome_display()})"
