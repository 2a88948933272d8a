"""A lesion's status (monitoring, referred, biopsied, excised, closed) and its history: only the patient's clinic
changes it; excised and closed lesions leave the attention list and get no photo reminders."""

from datetime import timedelta

from django.core import mail
from django.test import Client
from django.utils import timezone

from lesions import triage
from lesions.models import Lesion, LesionStatusChange
from lesions.triage import lesions_needing_attention
from portal.reminders import send_due_reminders
from tests.conftest import api_client
from tests.factories import LesionImageFactory, followed_lesion


def change_status(people, lesion, user=None, **body):
    return api_client(user or people.clinician_a).post(f"/api/lesions/{lesion.pk}/status/", body, format="json")


def test_the_clinic_changes_the_status_and_its_history_shows_in_the_api_and_on_the_page(people):
    assert api_client(people.patient_a_user).get(f"/api/lesions/{people.lesion_a.pk}/").json()["status"] == "monitoring"
    answer = change_status(people, people.lesion_a, status="referred", note="  To plastic surgery. ")
    assert answer.status_code == 200, answer.content
    assert change_status(people, people.lesion_a, user=people.admin_a, status="biopsied").status_code == 200

    seen_by_patient = api_client(people.patient_a_user).get(f"/api/lesions/{people.lesion_a.pk}/").json()
    assert seen_by_patient["status"] == "biopsied"
    assert [(step["status"], step["note"], step["changed_by"]) for step in seen_by_patient["status_history"]] == [
        ("referred", "To plastic surgery.", people.clinician_a.pk),
        ("biopsied", "", people.admin_a.pk),
    ]
    client = Client()
    client.force_login(people.patient_a_user)
    page = client.get(f"/lesions/{people.lesion_a.pk}/").content.decode()
    assert '<span id="lesion-status">Biopsied</span>' in page and "To plastic surgery." in page
    assert "Change the status" not in page  # the patient reads it, never changes it


def test_only_the_patients_clinic_changes_the_status_and_bad_input_is_refused(people):
    assert change_status(people, people.lesion_a, user=people.patient_a_user, status="closed").status_code == 403
    assert change_status(people, people.lesion_a, user=people.clinician_b, status="closed").status_code == 404
    assert api_client().post(f"/api/lesions/{people.lesion_a.pk}/status/", {"status": "closed"}).status_code == 401
    assert "status" in change_status(people, people.lesion_a, status="cured").json()
    same = change_status(people, people.lesion_a, status="monitoring")
    assert same.status_code == 400 and same.json()["non_field_errors"] == ["The lesion is already monitoring."]
    client = Client()
    client.force_login(people.patient_a_user)
    assert client.post(f"/lesions/{people.lesion_a.pk}/status/", {"status": "closed"}).status_code == 403
    client.force_login(people.clinician_b)
    assert client.post(f"/lesions/{people.lesion_a.pk}/status/", {"status": "closed"}).status_code == 404
    assert not LesionStatusChange.objects.exists()
    people.lesion_a.refresh_from_db()
    assert people.lesion_a.status == "monitoring"

    client.force_login(people.clinician_a)
    refused = client.post(f"/lesions/{people.lesion_a.pk}/status/", {"status": "monitoring"})
    assert refused.status_code == 400 and "The lesion is already monitoring." in refused.content.decode()
    saved = client.post(f"/lesions/{people.lesion_a.pk}/status/", {"status": "excised", "note": "Histology sent."})
    assert saved.status_code == 302
    assert LesionStatusChange.objects.get().changed_by == people.clinician_a


def test_excised_and_closed_lesions_leave_the_attention_list(people):
    followed_lesion(people.lesion_a, people.clinician_a)  # its change is flagged: it needs attention
    followed_lesion(people.lesion_b, people.clinician_a)
    assert {lesion.pk for lesion in lesions_needing_attention(people.clinician_a)} == {
        people.lesion_a.pk,
        people.lesion_b.pk,
    }
    change_status(people, people.lesion_a, status="biopsied")
    assert people.lesion_a.pk in {lesion.pk for lesion in lesions_needing_attention(people.clinician_a)}
    change_status(people, people.lesion_a, status="excised")
    change_status(people, people.lesion_b, status="closed")
    assert lesions_needing_attention(people.clinician_a) == []


def test_an_excised_lesion_sends_no_reminder(people):
    now = timezone.now()
    for lesion in (people.lesion_a, people.lesion_b):
        LesionImageFactory(lesion=lesion, uploaded_by=people.clinician_a, captured_at=now - timedelta(days=100))
    Lesion.objects.update(follow_up_interval=1, follow_up_unit="months")
    change_status(people, people.lesion_a, status="excised")
    assert send_due_reminders(now=now) == 1
    [reminder] = mail.outbox
    assert reminder.to == [people.patient_b_user.email]
    assert people.lesion_b.label in reminder.body and people.lesion_a.label not in reminder.body


def test_the_dashboard_says_when_it_lists_only_the_first_lesions_needing_attention(people, monkeypatch):
    followed_lesion(people.lesion_a, people.clinician_a)
    followed_lesion(people.lesion_b, people.clinician_a)
    client = Client()
    client.force_login(people.clinician_a)
    assert 'id="attention-shown"' not in client.get("/").content.decode()
    monkeypatch.setattr(triage, "ATTENTION_LIMIT", 1)
    page = client.get("/")
    assert len(page.context["attention"]) == 1
    assert "The first 1 of 2 lesions</strong> that need attention are listed here." in page.content.decode()
