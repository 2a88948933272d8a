"""Clinical feedback: a clinic records what a lesion turned out to be, and exports those labels for retraining."""

import csv

from django.core.management import CommandError, call_command
from PIL import Image

from audit.models import AuditEvent
from lesions.models import ConfirmedDiagnosis
from tests.conftest import api_client
from tests.factories import LesionImageFactory

HISTOLOGY = {"dx": "mel", "dx_type": "histo", "confirmed_on": "2026-05-02", "note": "Path report 26-1187"}


def test_clinician_records_and_corrects_a_confirmed_diagnosis_through_the_api(people):
    client = api_client(people.clinician_a)
    url = f"/api/lesions/{people.lesion_a.pk}/diagnosis/"
    assert client.post(url, HISTOLOGY, format="json").status_code == 200
    assert client.post(url, {**HISTOLOGY, "dx": "nv"}, format="json").status_code == 200
    diagnosis = ConfirmedDiagnosis.objects.get()
    assert (diagnosis.dx, diagnosis.dx_type, diagnosis.recorded_by) == ("nv", "histo", people.clinician_a)
    lesion = client.get(f"/api/lesions/{people.lesion_a.pk}/").json()
    assert lesion["confirmed_diagnosis"]["dx"] == "nv"


def test_only_the_clinic_records_a_diagnosis_and_unknown_labels_are_refused(people):
    url = f"/api/lesions/{people.lesion_a.pk}/diagnosis/"
    assert api_client(people.clinician_b).post(url, HISTOLOGY, format="json").status_code == 404
    assert api_client(people.patient_a_user).post(url, HISTOLOGY, format="json").status_code == 403
    refused = api_client(people.clinician_a).post(url, {**HISTOLOGY, "dx": "freckle"}, format="json")
    assert refused.status_code == 400 and "dx" in refused.json()
    assert not ConfirmedDiagnosis.objects.exists()


def test_the_lesion_page_records_a_diagnosis_and_shows_it(people, client):
    client.force_login(people.clinician_a)
    page = client.post(f"/lesions/{people.lesion_a.pk}/diagnosis/", HISTOLOGY, follow=True)
    assert page.status_code == 200
    assert "Melanoma</strong>, confirmed by histopathology on 2026-05-02" in page.content.decode()
    refused = client.post(f"/lesions/{people.lesion_a.pk}/diagnosis/", {**HISTOLOGY, "confirmed_on": ""})
    assert refused.status_code == 400
    client.force_login(people.patient_a_user)
    assert "Melanoma" in client.get(f"/lesions/{people.lesion_a.pk}/").content.decode()
    assert client.post(f"/lesions/{people.lesion_a.pk}/diagnosis/", HISTOLOGY).status_code == 403


def test_export_holds_confirmed_labels_of_patients_who_did_not_opt_out(people, tmp_path):
    LesionImageFactory(lesion=people.lesion_a, uploaded_by=people.clinician_a, captured_at="2026-04-01T10:00:00Z")
    LesionImageFactory(lesion=people.lesion_a, uploaded_by=people.clinician_a, captured_at="2026-05-01T10:00:00Z")
    LesionImageFactory(lesion=people.lesion_b, uploaded_by=people.clinician_a, captured_at="2026-04-01T10:00:00Z")
    LesionImageFactory(
        lesion=people.lesion_b, uploaded_by=people.clinician_a, captured_at="2026-04-01T10:00:00Z"
    )  # patient B opts out below
    people.patient_a.date_of_birth = people.patient_a.date_of_birth.replace(year=1970, month=6, day=1)
    people.patient_a.save()
    people.patient_b.ai_training_opt_out = True
    people.patient_b.save()
    client = api_client(people.clinician_a)
    for lesion in (people.lesion_a, people.lesion_b):
        client.post(f"/api/lesions/{lesion.pk}/diagnosis/", HISTOLOGY, format="json")

    call_command("export_training_set", str(tmp_path), "--clinic", "Clinic A")

    rows = list(csv.DictReader((tmp_path / "metadata.csv").open()))
    assert len(rows) == 2
    assert {row["dx"] for row in rows} == {"mel"} and {row["dx_type"] for row in rows} == {"histo"}
    assert [row["age"] for row in rows] == ["55", "55"]
    assert {row["localization"] for row in rows} == {people.lesion_a.body_site}
    assert people.patient_a.last_name not in (tmp_path / "metadata.csv").read_text()
    for row in rows:
        assert Image.open(tmp_path / "images" / f"{row['image_id']}.jpg").size == (300, 225)  # the stored photo, whole
    # The photos left the system: the trail names whose (the patient who opted out is not among them).
    export = AuditEvent.objects.get(action="export")
    assert (export.clinic_id, export.actor_username) == (people.clinic_a.pk, "manage.py export_training_set")
    assert list(export.patients.values_list("patient_id", flat=True)) == [people.patient_a.pk]
    listed = api_client(people.admin_a).get("/api/audit/", {"patient_id": people.patient_a.pk, "action": "export"})
    assert [event["id"] for event in listed.json()["results"]] == [export.pk]


def test_export_names_an_unknown_clinic(db, tmp_path):
    try:
        call_command("export_training_set", str(tmp_path), "--clinic", "Nowhere")
    except CommandError as error:
        assert "Nowhere" in str(error)
    else:
        raise AssertionError("an unknown clinic must be refused")
