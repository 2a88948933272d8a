"""Confirmed diagnoses as real pathology reports them: the model's 7 classes plus squamous cell carcinoma, melanoma
in situ, atypical naevus, seborrhoeic keratosis and 'other' in words; the training export writes each as its model
class or leaves it out, and says which."""

import csv
import io

from django.core.management import call_command

from lesions.models import CONFIRMED_DIAGNOSES, ConfirmedDiagnosis
from tests.conftest import api_client
from tests.factories import LesionFactory, LesionImageFactory

RESULT = {"dx_type": "histo", "confirmed_on": "2026-05-02"}


def record(people, lesion, user=None, **body):
    url = f"/api/lesions/{lesion.pk}/diagnosis/"
    return api_client(user or people.clinician_a).post(url, {**RESULT, **body}, format="json")


def test_every_diagnosis_of_the_vocabulary_is_recorded_and_named(people):
    for code, label, model_class in CONFIRMED_DIAGNOSES:
        answer = record(people, people.lesion_a, dx=code, dx_other="Lichen planus" if code == "other" else "")
        assert answer.status_code == 200, (code, answer.content)
        recorded = answer.json()
        assert recorded["name"] == ("Lichen planus" if code == "other" else label)
        assert recorded["training_class"] == model_class
    assert [code for code, _, _ in CONFIRMED_DIAGNOSES][7:] == ["scc", "mel_in_situ", "atypical_nv", "sk", "other"]


def test_other_must_be_named_and_only_other_keeps_a_name(people, client):
    refused = record(people, people.lesion_a, dx="other")
    assert refused.status_code == 400
    assert refused.json()["dx_other"] == ["Name the diagnosis when it is 'Other'."]
    assert not ConfirmedDiagnosis.objects.exists()
    assert record(people, people.lesion_a, dx="sk", dx_other="ignored").json()["dx_other"] == ""

    client.force_login(people.clinician_a)
    page = client.post(f"/lesions/{people.lesion_b.pk}/diagnosis/", {**RESULT, "dx": "other", "dx_other": " "})
    assert page.status_code == 400 and "Name the diagnosis when it is" in page.content.decode()
    named = client.post(f"/lesions/{people.lesion_b.pk}/diagnosis/", {**RESULT, "dx": "other", "dx_other": "Wart"})
    assert named.status_code == 302
    assert "<strong>Wart</strong>" in client.get(f"/lesions/{people.lesion_b.pk}/").content.decode()


def test_the_export_writes_each_diagnosis_as_its_model_class_or_leaves_it_out_and_says_which(people, tmp_path):
    diagnoses = {"mel_in_situ": "mel", "sk": "bkl", "atypical_nv": "nv", "bcc": "bcc", "scc": None, "other": None}
    lesions = {}
    for code in diagnoses:
        lesion = LesionFactory(patient=people.patient_a)
        LesionImageFactory(lesion=lesion, uploaded_by=people.clinician_a, captured_at="2026-04-01T10:00:00Z")
        assert record(people, lesion, dx=code, dx_other="Wart" if code == "other" else "").status_code == 200
        lesions[code] = lesion

    output = io.StringIO()
    call_command("export_training_set", str(tmp_path), stdout=output)

    rows = {row["lesion_id"]: row["dx"] for row in csv.DictReader((tmp_path / "metadata.csv").open())}
    assert rows == {
        f"SKINTRACK_L{lesions[code].pk:07d}": model_class
        for code, model_class in diagnoses.items()
        if model_class is not None
    }
    said = output.getvalue()
    assert "Wrote 4 images of 4 lesions" in said
    assert "Melanoma in situ written as mel (1)" in said and "Seborrhoeic keratosis written as bkl (1)" in said
    assert "Atypical (dysplastic) naevus written as nv (1)" in said
    assert "left out 1 images diagnosed Squamous cell carcinoma (invasive)" in said
    assert "left out 1 images diagnosed Wart" in said
    assert "Basal cell carcinoma written as" not in said
