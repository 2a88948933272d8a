"""The worker measures how a lesion changed since its previous photo, so the dashboard flags a change that
nobody has opened the comparison for yet."""

from datetime import timedelta

from django.core.cache import cache
from django.urls import reverse
from django.utils import timezone

from lesions.models import LesionImage
from tests.factories import LesionImageFactory
from tests.model_files import run_pipeline


def classify(image: LesionImage) -> LesionImage:
    run_pipeline(image.pk)
    image.refresh_from_db()
    assert image.status == LesionImage.Status.DONE, image.error
    return image


def test_the_worker_flags_an_enlarged_lesion_for_the_dashboard(people, client):
    earlier = LesionImageFactory(
        lesion=people.lesion_a, uploaded_by=people.clinician_a, captured_at=timezone.now() - timedelta(days=90)
    )
    later = LesionImageFactory(lesion=people.lesion_a, uploaded_by=people.clinician_a, lesion_scale=1.2)
    classify(earlier)
    assert earlier.change_from_previous is None  # the first photo has nothing to compare with
    later = classify(later)
    change = later.change_from_previous
    assert change["before_id"] == earlier.pk
    assert abs(change["area_ratio"] - 1.44) <= 0.1
    assert change["changed"] is True

    cache.clear()  # no page has measured anything: the flag comes from what the worker stored
    client.force_login(people.clinician_a)
    attention = client.get(reverse("home")).content.decode().split('id="attention-title"')[1].split("</section>")[0]
    assert str(people.lesion_a) in attention and "Changed" in attention


def test_a_photo_that_arrives_out_of_order_is_measured_against_both_neighbours(people):
    first = classify(
        LesionImageFactory(
            lesion=people.lesion_a, uploaded_by=people.clinician_a, captured_at=timezone.now() - timedelta(days=200)
        )
    )
    last = classify(LesionImageFactory(lesion=people.lesion_a, uploaded_by=people.clinician_a, lesion_scale=1.2))
    assert last.change_from_previous["before_id"] == first.pk
    middle = classify(
        LesionImageFactory(
            lesion=people.lesion_a, uploaded_by=people.clinician_a, captured_at=timezone.now() - timedelta(days=100)
        )
    )
    last.refresh_from_db()
    assert middle.change_from_previous["before_id"] == first.pk
    assert last.change_from_previous["before_id"] == middle.pk
