"""The audit page for clinic admins: filters by patient, user, action and days, pagination, and the CSV export
with the same filters; another clinic's events never show."""

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from audit.models import AuditEvent, AuditEventPatient
from clinic.views import EVENTS_PER_PAGE

pytestmark = pytest.mark.django_db

MARCH_1 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def event_at(moment, monkeypatch, **fields) -> AuditEvent:
    """An event written at a given time (the trail is append-only: its time cannot be changed afterwards)."""
    with monkeypatch.context() as patch:
        patch.setattr(timezone, "now", lambda: moment)
        return AuditEvent.objects.create(**fields)


@pytest.fixture
def trail(people, monkeypatch):
    """Clinic A's events on three days, and one of clinic B."""
    clinic_a = people.clinic_a.pk
    events = {
        "clinician_views_patient_a": event_at(
            MARCH_1,
            monkeypatch,
            actor=people.clinician_a,
            actor_username=people.clinician_a.username,
            action="view",
            clinic_id=clinic_a,
            patient_id=people.patient_a.pk,
            target=f"patient {people.patient_a.pk}",
            path="/patients/1/",
            user_agent='=HYPERLINK("http://evil.example")',
        ),
        "admin_searches": event_at(
            MARCH_1 + timedelta(days=1),
            monkeypatch,
            actor=people.admin_a,
            actor_username=people.admin_a.username,
            action="view",
            clinic_id=clinic_a,
            target="patient list",
        ),
        "clinician_changes_patient_b": event_at(
            MARCH_1 + timedelta(days=2),
            monkeypatch,
            actor=people.clinician_a,
            actor_username=people.clinician_a.username,
            action="change",
            clinic_id=clinic_a,
            patient_id=people.patient_b.pk,
            target=f"patient {people.patient_b.pk}",
        ),
        "clinic_b": event_at(
            MARCH_1,
            monkeypatch,
            actor=people.clinician_b,
            actor_username=people.clinician_b.username,
            action="view",
            clinic_id=people.clinic_b.pk,
            target="secret of clinic B",
        ),
    }
    AuditEventPatient.objects.create(event=events["admin_searches"], patient_id=people.patient_a.pk)
    return events


def shown(response) -> set[int]:
    return {event.pk for event in response.context["page"]}


def test_the_admin_reads_their_clinics_events_only_newest_first(people, trail):
    response = client_for(people.admin_a).get(reverse("clinic:audit"))
    assert response.status_code == 200
    march = {event.pk for event in trail.values()}
    events = [event.pk for event in response.context["page"] if event.pk in march]
    assert events == [trail[name].pk for name in ("clinician_changes_patient_b", "admin_searches")] + [
        trail["clinician_views_patient_a"].pk
    ]
    assert "secret of clinic B" not in response.content.decode()


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        # A patient's own records, and the lists that showed them.
        (lambda people: {"patient": people.patient_a.pk}, {"clinician_views_patient_a", "admin_searches"}),
        (lambda people: {"actor": people.clinician_a.pk}, {"clinician_views_patient_a", "clinician_changes_patient_b"}),
        (lambda people: {"action": "change"}, {"clinician_changes_patient_b"}),
        (lambda people: {"since": "2026-03-02", "until": "2026-03-02"}, {"admin_searches"}),
        (
            lambda people: {"actor": people.clinician_a.pk, "until": "2026-03-02"},
            {"clinician_views_patient_a"},
        ),
    ],
)
def test_filters(people, trail, filters, expected):
    response = client_for(people.admin_a).get(reverse("clinic:audit"), filters(people))
    assert response.status_code == 200
    in_march = {pk for pk in shown(response) if pk in {event.pk for event in trail.values()}}
    assert in_march == {trail[name].pk for name in expected}


def test_another_clinics_patient_or_user_is_not_a_choice(people, trail):
    client = client_for(people.admin_a)
    for filters in ({"actor": people.clinician_b.pk}, {"patient": 10**9}, {"since": "yesterday"}):
        response = client.get(reverse("clinic:audit"), filters)
        assert response.status_code == 400, filters
        assert "Select a valid choice" in response.content.decode() or "Enter a valid date" in (
            response.content.decode()
        )
        assert client.get(reverse("clinic:audit-export"), filters).status_code == 400


def test_the_page_is_paginated_and_its_links_keep_the_filters(people, monkeypatch):
    for minute in range(EVENTS_PER_PAGE + 1):
        event_at(MARCH_1 + timedelta(minutes=minute), monkeypatch, action="change", clinic_id=people.clinic_a.pk)
    client = client_for(people.admin_a)
    first = client.get(reverse("clinic:audit"), {"action": "change"})
    assert len(first.context["page"]) == EVENTS_PER_PAGE
    assert "?action=change&amp;page=2" in first.content.decode()
    second = client.get(reverse("clinic:audit"), {"action": "change", "page": 2})
    assert [event.occurred_at for event in second.context["page"]] == [MARCH_1]


def test_the_csv_has_the_pages_filters_every_page_and_no_formula(people, trail):
    client = client_for(people.admin_a)
    page = client.get(reverse("clinic:audit"), {"actor": people.clinician_a.pk}).content.decode()
    assert f"/clinic/audit/export.csv?actor={people.clinician_a.pk}" in page
    response = client.get(reverse("clinic:audit-export"), {"actor": people.clinician_a.pk})
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    assert response["Content-Disposition"].startswith('attachment; filename="audit-trail-')
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert [(row["action"], row["target"]) for row in rows] == [
        ("change", f"patient {people.patient_b.pk}"),
        ("view", f"patient {people.patient_a.pk}"),
    ]
    assert rows[1]["browser"] == '\'=HYPERLINK("http://evil.example")'
    assert rows[1]["user"] == people.clinician_a.username and rows[1]["patient"] == str(people.patient_a.pk)
    searches = client.get(reverse("clinic:audit-export"), {"patient": people.patient_a.pk})
    rows = list(csv.DictReader(io.StringIO(b"".join(searches.streaming_content).decode())))
    assert [(row["patient"], row["patients shown"]) for row in rows] == [
        ("", str(people.patient_a.pk)),
        (str(people.patient_a.pk), ""),
    ]


def test_reading_and_exporting_the_trail_are_on_the_trail(people, trail):
    client = client_for(people.admin_a)
    client.get(reverse("clinic:audit"))
    b"".join(client.get(reverse("clinic:audit-export")).streaming_content)
    read, exported = AuditEvent.objects.filter(target="audit trail").order_by("id")
    assert (read.action, read.clinic_id, read.actor) == ("view", people.clinic_a.pk, people.admin_a)
    assert (exported.action, exported.clinic_id) == ("export", people.clinic_a.pk)


def test_the_page_names_the_patients_an_event_concerns(people, trail):
    page = client_for(people.admin_a).get(reverse("clinic:audit"), {"patient": people.patient_a.pk})
    rows = {event.pk: event.patient_names for event in page.context["page"]}
    assert rows[trail["clinician_views_patient_a"].pk] == [str(people.patient_a)]
    assert rows[trail["admin_searches"].pk] == [str(people.patient_a)]
    assert str(people.patient_a) in page.content.decode().replace("&#x27;", "'")
