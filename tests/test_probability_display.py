"""Probabilities read as people should read them: never "0%" or "100%" on a page, the share page or the PDF."""

import re

import pytest

from lesions.display import probability_text
from sharing.links import share_token
from sharing.services import share_lesion
from sharing.tasks import send_share_email_task
from tests.factories import BEFORE_TAKEN, LesionImageFactory, PredictionFactory
from tests.sharing_support import pdf_text, text_of

pytestmark = pytest.mark.django_db

# Nearly certain: nevus 99.6%, six classes sharing the rest (each well under 1%); malignancy 0.3%.
NEARLY_CERTAIN = {"nv": 0.996, "mel": 0.001, "bcc": 0.001, "akiec": 0.001, "bkl": 0.0005, "df": 0.0003, "vasc": 0.0002}
ROUNDS_TO_NOTHING_OR_ALL = re.compile(r"(?<![\d.<>])(0|100)%")


@pytest.mark.parametrize(
    ("value", "text"),
    [(0.0, "<1%"), (0.0049, "<1%"), (0.0099, "<1%"), (0.01, "1%"), (0.424, "42%"), (0.99, "99%"), (0.991, ">99%"),
     (0.9996, ">99%"), (1.0, ">99%")],
)  # fmt: skip
def test_probability_text(value, text):
    assert probability_text(value) == text


@pytest.fixture
def nearly_certain(people):
    image = LesionImageFactory(lesion=people.lesion_a, uploaded_by=people.clinician_a, captured_at=BEFORE_TAKEN)
    PredictionFactory(image=image, probabilities=NEARLY_CERTAIN)
    return image


def test_the_lesion_page_shows_small_and_large_probabilities_as_bounds(people, nearly_certain, client):
    client.force_login(people.clinician_a)
    page = client.get(f"/lesions/{people.lesion_a.pk}/").content.decode()
    card = page[page.index('class="prediction"') :]
    visible = re.sub(r"<[^>]+>", " ", card)
    assert "Most likely melanocytic nevus (&gt;99%)" in " ".join(visible.split())
    assert "Malignancy score &lt;1%" in " ".join(visible.split())
    assert not ROUNDS_TO_NOTHING_OR_ALL.findall(visible)
    assert "In the training data, lesions like this were confirmed by" in page
    assert "not a recommendation" in page
    assert "usually confirmed by" not in page


def test_the_share_page_and_the_pdf_show_bounds(people, nearly_certain, client):
    shared = share_lesion(lesion=people.lesion_a, shared_by=people.clinician_a, to="gp@example.org")
    page = client.get(f"/s/{share_token(shared)}/").content.decode()
    visible = " ".join(re.sub(r"<[^>]+>", " ", page).split())
    assert "(&gt;99%)" in visible and "&lt;1%" in visible
    assert not ROUNDS_TO_NOTHING_OR_ALL.findall(visible)

    client.force_login(people.clinician_a)
    text = pdf_text(client.get(f"/lesions/{people.lesion_a.pk}/report.pdf").content)
    assert "melanocytic nevus >99%" in text
    assert "<1%" in text
    assert not ROUNDS_TO_NOTHING_OR_ALL.findall(text)


def test_the_share_email_shows_bounds(people, nearly_certain, smtp_inbox):
    shared = share_lesion(lesion=people.lesion_a, shared_by=people.clinician_a, to="gp@example.org")
    send_share_email_task.apply(args=[shared.pk])
    [message] = smtp_inbox.messages
    body = text_of(message)
    assert "Most likely: melanocytic nevus (>99%)" in body
    assert "Malignancy score: <1%" in body
    assert not ROUNDS_TO_NOTHING_OR_ALL.findall(body)
