"""Review before release: which photo results a signed-in user sees.

Members of a patient's clinic see every result of that patient at once (they are the reviewers); anyone else who
may see the photo, that is the patient, sees its result (prediction, measurements, change flag) only once it is
released (see LesionImage.result_released)."""

from collections.abc import Iterable

from lesions import access
from lesions.models import LesionImage

AWAITING_REVIEW = "Your clinic will review this photo; its result appears here once they have."


class ResultViewer:
    def __init__(self, user):
        # Read once: the pages mark many photos of a few patients.
        self.clinic_ids = frozenset(access.clinic_ids_of(user)) if user is not None else frozenset()

    def sees_all_results_of(self, patient) -> bool:
        """lesions.access.can_edit_patient, on the clinic ids read once."""
        return patient.clinic_id in self.clinic_ids

    def sees_result(self, image: LesionImage) -> bool:
        return self.sees_all_results_of(image.lesion.patient) or image.result_released

    def sees_change(self, image: LesionImage) -> bool:
        """The change measured on the photo is part of its result; one flagged after the review reaches the
        patient only once a clinician has acknowledged it."""
        if self.sees_all_results_of(image.lesion.patient):
            return True
        return image.result_released and not image.change_awaits_acknowledgement

    def mark(self, images: Iterable[LesionImage]) -> list[LesionImage]:
        """Set each photo's `result_shown` and `change_shown`, which the pages read before showing them."""
        images = list(images)
        for image in images:
            image.result_shown = self.sees_result(image)
            image.change_shown = self.sees_change(image)
        return images
