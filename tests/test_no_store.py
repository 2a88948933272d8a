"""Answers that carry patients' data are never kept by a browser or proxy cache: `Cache-Control: no-store` on
pages, API answers and photo files (photos used to be `private, max-age=300`)."""

import pytest
from django.test import Client

from sharing.links import share_token
from sharing.services import share_lesion
from tests.conftest import api_client
from tests.factories import LesionImageFactory


@pytest.fixture
def photographed(people):
    image = LesionImageFactory(lesion=people.lesion_a, uploaded_by=people.clinician_a)
    share = share_lesion(lesion=people.lesion_a, shared_by=people.clinician_a, to="gp@example.org")
    return image, share_token(share)


PAGE_URLS = [
    "/",
    "/patients/{patient}/",
    "/lesions/{lesion}/",
    "/lesions/{lesion}/report.pdf",
    "/photos/{image}/card/",
    "/shares/",
    "/accounts/password/change/",
]
API_URLS = [
    "/api/patients/",
    "/api/patients/{patient}/",
    "/api/lesions/{lesion}/timeline/",
    "/api/images/{image}/",
    "/api/images/{image}/file/",
    "/api/images/{image}/thumbnail/",
    "/api/shares/",
]


def values(people, photographed) -> dict:
    image, token = photographed
    return {"patient": people.patient_a.pk, "lesion": people.lesion_a.pk, "image": image.pk, "token": token}


def assert_not_stored(answer, url):
    assert answer.status_code == 200, url
    assert "no-store" in answer["Cache-Control"], url
    assert "max-age=300" not in answer["Cache-Control"], url


@pytest.mark.parametrize("url", PAGE_URLS)
def test_pages_are_not_stored(people, photographed, url):
    client = Client()
    client.force_login(people.clinician_a)
    url = url.format(**values(people, photographed))
    assert_not_stored(client.get(url), url)


@pytest.mark.parametrize("url", API_URLS)
def test_api_answers_and_photos_are_not_stored(people, photographed, url):
    url = url.format(**values(people, photographed))
    assert_not_stored(api_client(people.patient_a_user).get(url), url)


def test_share_links_and_their_photos_are_not_stored(people, photographed):
    image, token = photographed
    for url in (f"/s/{token}/", f"/s/{token}/images/{image.pk}/", f"/s/{token}/report.pdf"):
        assert_not_stored(Client().get(url), url)
