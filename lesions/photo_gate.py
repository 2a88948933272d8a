"""The photo check before the classifier, on the worker: a photo held back gets no prediction until a clinician
asks for one (lesions.services.classify_held_back_photo)."""

from django.utils import timezone
from PIL import Image

from inference.analysis.gate import check_photo
from lesions.models import LesionImage


def holds_back(*, image: LesionImage, photo: Image.Image) -> bool:
    """Check the photo and store the verdict; a photo that fails is marked held back. A photo a clinician asked
    the model about anyway goes through, keeping the verdict that held it back for the card to show."""
    if image.gate_overridden_at is not None:
        return False
    verdict = check_photo(photo, modality=image.modality).as_dict()
    status = LesionImage.Status.RUNNING if verdict["passed"] else LesionImage.Status.GATED
    LesionImage.objects.filter(pk=image.pk).update(gate_verdict=verdict, status=status, stage_changed_at=timezone.now())
    return not verdict["passed"]
