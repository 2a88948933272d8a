"""'Follow-up photo overdue (due <date>)' on the lesion page, the patient page and the dashboard's attention list,
by the one definition the reminders use too (Lesion.follow_up_overdue_since): due yesterday is overdue, due
tomorrow is not, and an excised or closed lesion never is."""

import pytest
from django.test import Client
from django.urls import reverse

from lesions.models import LesionStatus
from portal.reminders import due_lesions
from tests.factories import LesionFactory, LesionImageFactory
from tests.pages_support import days_ago

OVERDUE = "Follow-up photo overdue"


@pytest.fixture
def lesions(people):
    """Three lesions of patient A followed every 10 days: one photographed 11 days ago (due yesterday), one 9
    days ago (due tomorrow), one 11 days ago but excised since."""
    made = {}
    for label, days, status in (
        ("Due yesterday", 11, LesionStatus.MONITORING),
        ("Due tomorrow", 9, LesionStatus.MONITORING),
        ("Excised one", 11, LesionStatus.EXCISED),
    ):
        lesion = LesionFactory(
            patient=people.patient_a, label=label, follow_up_interval=10, follow_up_unit="days", status=status
        )
        LesionImageFactory(lesion=lesion, uploaded_by=people.clinician_a, captured_at=days_ago(days))
        made[label] = lesion
    return made


def page(user, url: str) -> str:
    client = Client()
    client.force_login(user)
    answer = client.get(url)
    assert answer.status_code == 200
    return answer.content.decode()


def test_the_lesion_page_says_a_late_photo_is_overdue_and_when_it_was_due(people, lesions):
    late = lesions["Due yesterday"]
    due = days_ago(1).strftime("%Y-%m-%d")
    for user in (people.clinician_a, people.patient_a_user):
        html = page(user, reverse("lesion", args=[late.pk]))
        assert OVERDUE in html and f"(due {due})" in html
        for on_time in (lesions["Due tomorrow"], lesions["Excised one"]):
            assert OVERDUE not in page(user, reverse("lesion", args=[on_time.pk])), on_time


def test_the_patient_page_marks_only_the_late_lesion(people, lesions):
    for user in (people.clinician_a, people.patient_a_user):
        html = page(user, reverse("patient", args=[people.patient_a.pk]))
        assert html.count(OVERDUE) == 1
        # The one badge sits in the late lesion's item of the list.
        assert OVERDUE in html.split("Due yesterday</a>")[1].split("</li>")[0]


def test_the_dashboard_lists_the_late_lesion_as_overdue_and_neither_other(people, lesions):
    html = page(people.clinician_a, reverse("home"))
    section = html.split('id="attention-title"')[1].split("</section>")[0]
    assert "Due yesterday" in section and OVERDUE in section
    assert "Due tomorrow" not in section and "Excised one" not in section


def test_reminders_and_pages_agree_on_what_is_due(people, lesions):
    assert [lesion.label for lesion in due_lesions(people.patient_a.lesions.all())] == ["Due yesterday"]
    for label, lesion in lesions.items():
        overdue = lesion.follow_up_overdue_since(lesion.images.get().captured_at)
        assert (overdue is not None) == (label == "Due yesterday"), label
