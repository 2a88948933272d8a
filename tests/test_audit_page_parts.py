"""One audit event per page view: the thumbnails, outlines, result cards and chart a page loads are parts of that
page, recorded by the page's own event; fetched on their own, or refused, they are recorded as before."""

import re
from datetime import timedelta

import pytest
from django.core.files.base import ContentFile
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from PIL import Image

from audit.middleware import PAGE_PART_ROUTES, PAGE_PARTS_FOLLOW_WITHIN
from audit.models import AuditEvent
from lesions.services import review_photo
from tests.conftest import api_client
from tests.factories import LesionImageFactory, PredictionFactory
from tests.images import encode
from tests.pages_support import days_ago

pytestmark = pytest.mark.django_db

PHOTOS = 6
# What a browser loads by itself with the page, other than static files: its images (thumbnails and outlines).
LOADED_WITH_THE_PAGE = re.compile(r'src="(/(?!static/)[^"]+)"')


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def reviewed_photos(people):
    """Lesion A with six classified, reviewed photos, each with its stored outline: all a page can load."""
    mask = Image.new("L", (40, 30), 0)
    mask.paste(255, (10, 10, 30, 20))
    photos = []
    for day in range(PHOTOS):
        image = LesionImageFactory(
            lesion=people.lesion_a, uploaded_by=people.clinician_a, captured_at=days_ago(10 * (PHOTOS - day))
        )
        PredictionFactory(image=image)
        image.refresh_from_db()
        image.mask.save("mask.png", ContentFile(encode(mask, "PNG")))
        review_photo(image=image, reviewed_by=people.clinician_a, disposition="routine")
        photos.append(image)
    return photos


def events_by(user):
    """The user's events other than signing in (force_login records one)."""
    return AuditEvent.objects.filter(actor=user).exclude(action=AuditEvent.Action.LOGIN)


def view_lesion_page_as_a_browser_would(client, lesion) -> list[str]:
    """The lesion page, then every image it shows, then the card and chart htmx fetches when a photo's analysis
    finishes while the page is open; returns the addresses of those parts."""
    page = client.get(reverse("lesion", args=[lesion.pk]))
    assert page.status_code == 200
    images = sorted(set(LOADED_WITH_THE_PAGE.findall(page.content.decode())))
    finished = lesion.images.latest("captured_at")
    parts = [*images, reverse("photo-card", args=[finished.pk]), reverse("lesion-chart", args=[lesion.pk])]
    for url in parts:
        assert client.get(url).status_code == 200, url
    return parts


def test_a_lesion_page_with_six_photos_and_everything_it_loads_is_one_event(people, reviewed_photos):
    client = client_for(people.clinician_a)
    parts = view_lesion_page_as_a_browser_would(client, people.lesion_a)
    thumbnails = [url for url in parts if url.endswith("/thumbnail/")]
    outlines = [url for url in parts if url.endswith("/outline.png")]
    assert len(thumbnails) == PHOTOS and len(outlines) == PHOTOS
    events = events_by(people.clinician_a)
    assert [(event.action, event.target, event.path) for event in events] == [
        ("view", f"lesion {people.lesion_a.pk}", reverse("lesion", args=[people.lesion_a.pk]))
    ]


def test_the_review_queue_and_the_thumbnails_it_shows_are_one_event(people):
    for _ in range(3):
        PredictionFactory(image=LesionImageFactory(lesion=people.lesion_a, uploaded_by=people.clinician_a))
    client = client_for(people.clinician_a)
    queue = client.get(reverse("review-queue"))
    thumbnails = LOADED_WITH_THE_PAGE.findall(queue.content.decode())
    assert len(thumbnails) == 3
    for url in thumbnails:
        assert client.get(url).status_code == 200
    [event] = events_by(people.clinician_a)
    assert (event.target, list(event.patients.values_list("patient_id", flat=True))) == (
        "review queue",
        [people.patient_a.pk],
    )


def test_the_patient_viewing_their_own_lesion_page_is_one_event_too(people, reviewed_photos):
    client = client_for(people.patient_a_user)
    view_lesion_page_as_a_browser_would(client, people.lesion_a)
    assert events_by(people.patient_a_user).count() == 1


def test_a_part_fetched_without_its_page_is_recorded(people, reviewed_photos):
    image = reviewed_photos[0]
    assert client_for(people.clinician_a).get(reverse("photo-outline", args=[image.pk])).status_code == 200
    assert [event.target for event in events_by(people.clinician_a)] == [f"lesion image {image.pk}"]


def test_a_part_fetched_long_after_its_page_is_recorded(people, reviewed_photos, monkeypatch):
    client = client_for(people.clinician_a)
    view_lesion_page_as_a_browser_would(client, people.lesion_a)
    later = timezone.now() + PAGE_PARTS_FOLLOW_WITHIN + timedelta(seconds=1)
    monkeypatch.setattr(timezone, "now", lambda: later)
    assert client.get(reverse("photo-outline", args=[reviewed_photos[0].pk])).status_code == 200
    assert events_by(people.clinician_a).count() == 2


def test_a_part_of_another_patient_is_recorded_even_right_after_a_page(people, reviewed_photos):
    other = LesionImageFactory(lesion=people.lesion_b, uploaded_by=people.clinician_a)
    client = client_for(people.clinician_a)
    view_lesion_page_as_a_browser_would(client, people.lesion_a)
    assert client.get(reverse("api:image-thumbnail", args=[other.pk])).status_code == 200
    assert events_by(people.clinician_a).filter(patient_id=people.patient_b.pk).count() == 1


def test_a_refused_part_is_recorded(people, reviewed_photos):
    client = client_for(people.clinician_b)
    assert client.get(reverse("api:image-thumbnail", args=[reviewed_photos[0].pk])).status_code == 404
    assert events_by(people.clinician_b).filter(path__endswith="/thumbnail/", status_code=404).count() == 1


def test_an_api_client_is_recorded_for_every_call(people, reviewed_photos):
    client = api_client(people.clinician_a)
    assert client.get(reverse("api:image-detail", args=[reviewed_photos[0].pk])).status_code == 200
    assert client.get(reverse("api:image-thumbnail", args=[reviewed_photos[0].pk])).status_code == 200
    assert events_by(people.clinician_a).count() == 2


def test_every_page_part_route_exists():
    """The routes are named in the audit middleware as strings: a renamed route must not silently be audited
    differently."""
    for name in PAGE_PART_ROUTES:
        assert reverse(name, args=[1])
