"""The photo check before the classifier, on the worker: a photo held back gets no prediction until a clinician
asks for one (lesions.services.classify_held_back_photo)."""

from PIL import Image

from inference.analysis.gate import check_photo
from lesions.models import LesionImage


def verdict(*, image: LesionImage, photo: Image.Image) -> dict | None:
    """The photo check's verdict, for the classifier to store with the photo's outcome; None for a photo a clinician
    asked the model about anyway: it goes through, keeping the verdict that held it back for the card to show."""
    if image.gate_overridden_at is not None:
        return None
    return check_photo(photo, modality=image.modality).as_dict()
