"""Shared by the sharing, portal and report tests: a real SMTP server on loopback, and lesion photos with real
prediction and measurement rows."""

import email
import email.policy
import re
from datetime import datetime

import pytest
from aiosmtpd.controller import Controller
from django.core.files.uploadedfile import SimpleUploadedFile

from lesions.models import Lesion, LesionImage, ModelVersion, Prediction
from lesions.services import add_lesion_image
from tests.fault_support import free_port
from tests.images import jpeg_bytes

LINK = re.compile(r"https?://[^/\s]+(/s/[^\s<>\"]+)")


class Inbox:
    """An aiosmtpd handler that keeps every message it accepts and refuses the addresses in `refuse` with 550."""

    def __init__(self):
        self.messages: list[email.message.EmailMessage] = []
        self.refuse: set[str] = set()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.refuse:
            return "550 5.1.1 No such mailbox here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(email.message_from_bytes(envelope.content, policy=email.policy.default))
        return "250 Message accepted for delivery"



@pytest.fixture
def smtp_inbox(settings):
    """A real SMTP server on 127.0.0.1 that Django's SMTP backend sends to."""
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = controller.hostname
    settings.EMAIL_PORT = controller.port
    settings.EMAIL_USE_TLS = False
    settings.EMAIL_TIMEOUT = 5
    settings.SKINTRACK_BASE_URL = "http://testserver"
    yield inbox
    controller.stop()


@pytest.fixture
def smtp_down(settings):
    """Mail settings naming a loopback port where no server listens: every connection is refused."""
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = free_port()
    settings.EMAIL_TIMEOUT = 2
    return settings


def text_of(message: email.message.EmailMessage) -> str:
    return message.get_body(preferencelist=("plain",)).get_content()


def share_link_path(message: email.message.EmailMessage) -> str:
    return LINK.search(text_of(message)).group(1)


def add_photo(lesion: Lesion, user, *, captured_at: datetime, measurements: dict | None = None) -> LesionImage:
    upload = SimpleUploadedFile("lesion.jpg", jpeg_bytes(), content_type="image/jpeg")
    image = add_lesion_image(lesion=lesion, upload=upload, uploaded_by=user, captured_at=captured_at)
    if measurements is not None:
        image.measurements = measurements
        image.save(update_fields=["measurements"])
    return image


def model_version() -> ModelVersion:
    version, _ = ModelVersion.objects.get_or_create(
        version="lite0-2026.11-test", defaults={"name": "EfficientNet-Lite0", "sha256": "0" * 64}
    )
    return version


def predict(image: LesionImage, probabilities: dict[str, float]) -> Prediction:
    """A prediction row as the worker stores it, from the 7 class probabilities given."""
    ranked = sorted(probabilities.items(), key=lambda item: item[1], reverse=True)
    prediction = Prediction.objects.create(
        image=image,
        model_version=model_version(),
        probabilities=probabilities,
        top=[list(pair) for pair in ranked[:2]],
        malignancy=sum(probabilities.get(code, 0.0) for code in ("mel", "bcc", "akiec")),
        dx_type={"histo": 0.6, "follow_up": 0.3, "consensus": 0.1, "confocal": 0.0},
    )
    LesionImage.objects.filter(pk=image.pk).update(status=LesionImage.Status.DONE)
    return prediction


BEFORE_TAKEN = datetime.fromisoformat("2026-03-02T10:00:00+00:00")
AFTER_TAKEN = datetime.fromisoformat("2026-09-14T10:00:00+00:00")
EARLIER = {"akiec": 0.02, "bcc": 0.03, "bkl": 0.10, "df": 0.02, "mel": 0.13, "nv": 0.68, "vasc": 0.02}
LATER = {"akiec": 0.03, "bcc": 0.04, "bkl": 0.08, "df": 0.01, "mel": 0.57, "nv": 0.25, "vasc": 0.02}
MEASURED_BEFORE = {"area_fraction": 0.1, "longest_diameter_pixels": 60.0, "asymmetry": 0.12, "border_irregularity": 1.3}
MEASURED_AFTER = {"area_fraction": 0.144, "longest_diameter_pixels": 72.0, "asymmetry": 0.2, "border_irregularity": 1.5}


def aligned_change(before: LesionImage) -> dict:
    """The change the worker stores on the later photo: taken twice as close (the alignment's zoom is 0.5), the
    lesion reads 5760 pixels against 1000, which is 1440 in the earlier photo's pixels: area x1.44."""
    return {
        "before_id": before.pk,
        "before": {"area_pixels": 1000, "longest_diameter_pixels": 40.0, "asymmetry": 0.12, "border_irregularity": 1.3},
        "after": {"area_pixels": 5760, "longest_diameter_pixels": 96.0, "asymmetry": 0.2, "border_irregularity": 1.5},
        "registration": {"transform": {"scale": 0.5}, "quality": 0.93, "quality_text": "Good alignment (0.93)."},
        "area_ratio": 1.44,
        "diameter_ratio": 1.2,
        "asymmetry_change": 0.08,
        "border_irregularity_change": 0.2,
        "changed": True,
        "reasons": ["Area grew: x1.44 (limits x0.8-x1.25)."],
    }


def followed_lesion(lesion: Lesion, user, *, aligned: bool = True) -> tuple[LesionImage, LesionImage]:
    """Two dated photos of the lesion, each with a prediction and measurements: the lesion grew (area x1.44)
    and its melanoma probability rose from 13% to 57%. `aligned`: the worker has also measured the pair aligned."""
    before = add_photo(lesion, user, captured_at=BEFORE_TAKEN, measurements=MEASURED_BEFORE)
    after = add_photo(lesion, user, captured_at=AFTER_TAKEN, measurements=MEASURED_AFTER)
    predict(before, EARLIER)
    predict(after, LATER)
    if aligned:
        LesionImage.objects.filter(pk=after.pk).update(change_from_previous=aligned_change(before))
        after.refresh_from_db()
    return before, after
