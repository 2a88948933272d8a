"""GET /api/lesions/{id}/compare/?before=ID&after=ID: queued for the worker's analysis queue, then its answer."""

import pytest

from lesions import pipeline
from lesions.models import LesionImage
from lesions.tasks import measure_pair_task
from skintrack.celery import app
from tests.conftest import api_client
from tests.factories import LesionImageFactory
from tests.pages_support import days_ago

pytestmark = pytest.mark.django_db


def compare_url(lesion, before, after) -> str:
    return f"/api/lesions/{lesion.pk}/compare/?before={before.pk}&after={after.pk}"


@pytest.fixture
def grown_pair(people):
    """Two photos of lesion A, the later one with the lesion enlarged x1.2, both outlined as the worker does."""
    earlier = LesionImageFactory(lesion=people.lesion_a, uploaded_by=people.clinician_a, captured_at=days_ago(60))
    later = LesionImageFactory(
        lesion=people.lesion_a, uploaded_by=people.clinician_a, lesion_scale=1.2, captured_at=days_ago(1)
    )
    for image in (earlier, later):
        pipeline.outline_lesion(image=image, photo=pipeline.read_photo(image))
    return LesionImage.objects.get(pk=earlier.pk), LesionImage.objects.get(pk=later.pk)


def test_a_pair_is_queued_for_the_analysis_queue_then_answered_with_the_workers_json(people, grown_pair):
    earlier, later = grown_pair
    client = api_client(people.clinician_a)
    queued = client.get(compare_url(people.lesion_a, earlier, later))
    assert queued.status_code == 202
    assert queued.json() == {"status": "queued", "before_id": earlier.pk, "after_id": later.pk}
    # Asked the other way round, it is the same pair, still waiting.
    assert client.get(compare_url(people.lesion_a, later, earlier)).status_code == 202
    assert app.amqp.router.route({}, measure_pair_task.name)["queue"].name == "analysis"

    measure_pair_task(earlier.pk, later.pk)  # what the worker runs for the queued message
    done = client.get(compare_url(people.lesion_a, earlier, later))
    assert done.status_code == 200
    body = done.json()
    assert body["verdict"] == "changed" and body["changed"] is True
    assert body["area_ratio"] == pytest.approx(1.44, abs=0.1)
    assert any(reason.startswith("Area grew") for reason in body["reasons"])
    assert (body["before_id"], body["after_id"]) == (earlier.pk, later.pk)

    # The same JSON the worker keeps on the later photo for its previous one.
    pipeline.record_change_from_previous(later)
    stored = LesionImage.objects.get(pk=later.pk).change_from_previous
    assert {key: value for key, value in body.items() if key != "after_id"} == stored


def test_a_phone_photo_against_a_dermoscopic_one_answers_cannot_tell(people):
    earlier = LesionImageFactory(lesion=people.lesion_a, uploaded_by=people.clinician_a, captured_at=days_ago(30))
    phone = LesionImageFactory(
        lesion=people.lesion_a,
        uploaded_by=people.clinician_a,
        lesion_scale=1.2,
        captured_at=days_ago(1),
        modality=LesionImage.Modality.CLINICAL,
    )
    client = api_client(people.clinician_a)
    assert client.get(compare_url(people.lesion_a, earlier, phone)).status_code == 202
    measure_pair_task(earlier.pk, phone.pk)
    body = client.get(compare_url(people.lesion_a, earlier, phone)).json()
    assert body["verdict"] == "cannot_tell" and body["changed"] is False
    assert body["verdict_text"] == "Cannot tell"
    assert any("Different kinds of photo" in reason for reason in body["cannot_tell_reasons"])


def test_only_the_lesions_own_clinic_and_patient_may_ask(people, grown_pair):
    earlier, later = grown_pair
    url = compare_url(people.lesion_a, earlier, later)
    assert api_client(people.clinician_b).get(url).status_code == 404
    assert api_client(people.patient_b_user).get(url).status_code == 404
    assert api_client().get(url).status_code == 401
    assert api_client(people.patient_a_user).get(url).status_code == 202
    assert api_client(people.admin_a).get(url).status_code == 202


def test_photos_of_another_lesion_or_the_same_photo_twice_are_refused(people, grown_pair):
    earlier, later = grown_pair
    other = LesionImageFactory(lesion=people.lesion_b, uploaded_by=people.clinician_a)
    client = api_client(people.clinician_a)
    foreign = client.get(compare_url(people.lesion_a, earlier, other))
    assert foreign.status_code == 400
    assert foreign.json() == {"after": [f"Photo {other.pk} is not a photo of this lesion."]}
    twice = client.get(compare_url(people.lesion_a, earlier, earlier))
    assert twice.status_code == 400 and twice.json() == {"after": ["Choose two different photos."]}
    missing = client.get(f"/api/lesions/{people.lesion_a.pk}/compare/?before={earlier.pk}")
    assert missing.status_code == 400 and "after" in missing.json()
