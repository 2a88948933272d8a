"""The lesion's PDF report, read back with pypdf: it holds the patient's lesion, the photos' dates and the
classifier's results over time, and only those who may see the lesion can download it."""

import io
import re
from datetime import UTC, datetime

from pypdf import PdfReader

from lesions.models import Disposition, LesionImage, ModelVersion
from lesions.services import review_photo
from sharing.links import share_token
from sharing.models import ShareOpening
from sharing.services import share_lesion
from sharing.tasks import send_share_email_task
from tests.factories import LesionImageFactory, ModelVersionFactory, PredictionFactory, UserFactory, followed_lesion
from tests.sharing_support import pdf_text, share_link_path, text_of


def test_report_holds_lesion_dates_predictions_and_change(people, client):
    _, after = followed_lesion(people.lesion_a, people.clinician_a)
    client.force_login(people.clinician_a)
    answer = client.get(f"/lesions/{people.lesion_a.pk}/report.pdf")
    assert answer.status_code == 200
    assert answer["Content-Type"] == "application/pdf"
    assert answer["Content-Disposition"].startswith('attachment; filename="skintrack-lesion-')
    text = pdf_text(answer.content)
    for expected in [
        people.patient_a.full_name,
        people.patient_a.medical_record_number,
        f"Lesion report: {people.lesion_a.label}",
        "2 photo(s), first 2026-03-02, latest 2026-09-14",
        "melanocytic nevus 68%",  # the first photo's most likely class
        "melanoma 13%",
        "melanoma 57%",  # the latest photo's most likely class
        "18%",  # the first photo's malignancy score: 0.13 + 0.03 + 0.02
        "64%",  # the latest: 0.57 + 0.04 + 0.03
        "lite0-2026.11-test",
        "Measured change from 2026-03-02 to 2026-09-14",
        "Flagged as changed: " + after.change_from_previous["reasons"][0],
        "aligning the later photo onto the earlier one",
        "not a diagnosis",
        "Malignancy score by date taken",  # the chart, drawn once there are two results
    ]:
        assert expected in text, expected
    assert len(PdfReader(io.BytesIO(answer.content)).pages[-1].images) >= 1


def test_report_gives_the_change_figures_the_worker_stored_for_the_aligned_pair(people, client):
    """The figures the change flag was decided on, as stored, even where the stored sizes would round otherwise."""
    _, after = followed_lesion(people.lesion_a, people.clinician_a)
    measured = after.change_from_previous
    # As if the later photo had been taken twice as close (the alignment's zoom 0.5): its lesion reads 5760 pixels
    # against 1000, which is 1440 in the earlier photo's pixels.
    stored = {
        **measured,
        "before": {**measured["before"], "area_pixels": 1000, "longest_diameter_pixels": 40.0, "asymmetry": 0.12},
        "after": {**measured["after"], "area_pixels": 5760, "longest_diameter_pixels": 96.0, "asymmetry": 0.2},
        "registration": {
            **measured["registration"],
            "transform": {**measured["registration"]["transform"], "scale": 0.5},
        },
        "area_ratio": 1.4449,
        "diameter_ratio": None,
        "asymmetry_change": 0.081,
    }
    LesionImage.objects.filter(pk=after.pk).update(change_from_previous=stored)
    client.force_login(people.clinician_a)
    text = pdf_text(client.get(f"/lesions/{people.lesion_a.pk}/report.pdf").content)
    assert "Area 1000 px² 1440 px² x1.44" in text
    assert "Longest diameter 40 px 48 px n/a" in text  # the worker could not measure the ratio: no figure is made up
    assert "Asymmetry (0-1) 0.12 0.20 +0.08" in text


def test_report_falls_back_to_each_photos_own_measurements_before_the_pair_is_aligned(people, client):
    before, after = followed_lesion(people.lesion_a, people.clinician_a, aligned=False)
    client.force_login(people.clinician_a)
    text = pdf_text(client.get(f"/lesions/{people.lesion_a.pk}/report.pdf").content)
    areas = before.measurements["area_fraction"], after.measurements["area_fraction"]
    assert f"Area {areas[0]:.1%} of the photo {areas[1]:.1%} of the photo x{areas[1] / areas[0]:.2f}" in text
    assert "a photo taken closer reads as larger" in text
    assert "flagged" not in text.lower()


def test_report_email_and_share_page_say_cannot_tell_and_never_changed_when_the_photos_cannot_be_compared(
    people, client, smtp_inbox
):
    _, after = followed_lesion(people.lesion_a, people.clinician_a)
    doubt = "Different kinds of photo (dermoscopic earlier, clinical later): a dermoscope and a plain camera differ."
    LesionImage.objects.filter(pk=after.pk).update(
        change_from_previous={
            **after.change_from_previous,
            "verdict": "cannot_tell",
            "changed": False,
            "reasons": [],
            "cannot_tell_reasons": [doubt],
        }
    )
    client.force_login(people.clinician_a)
    report = pdf_text(client.get(f"/lesions/{people.lesion_a.pk}/report.pdf").content)
    assert f"Cannot tell whether it changed: {doubt}" in report
    assert "Flagged as changed" not in report

    shared = share_lesion(lesion=people.lesion_a, shared_by=people.clinician_a, to="gp@example.org")
    send_share_email_task.apply(args=[shared.pk])
    [message] = smtp_inbox.messages
    text = text_of(message)
    html = message.get_body(preferencelist=("html",)).get_content()
    assert f"Cannot tell whether it changed: {doubt}" in text and "cannot tell whether it changed" in html
    assert "flagged as changed" not in text.lower() and "flagged as changed" not in html.lower()
    page = client.get(share_link_path(message)).content.decode()
    assert "Cannot tell whether it changed" in page and doubt in page
    assert "Flagged as changed" not in page


def test_report_of_a_lesion_without_photos_still_opens(people, client):
    client.force_login(people.patient_a_user)
    answer = client.get(f"/lesions/{people.lesion_a.pk}/report.pdf")
    assert answer.status_code == 200
    assert "0 photo(s)" in pdf_text(answer.content)


def test_only_those_who_see_the_lesion_download_its_report(people, client):
    url = f"/lesions/{people.lesion_a.pk}/report.pdf"
    assert client.get(url).status_code == 302  # anonymous: to the sign-in page
    for outsider in (people.clinician_b, people.patient_b_user):
        client.force_login(outsider)
        assert client.get(url).status_code == 404
    for insider in (people.admin_a, people.patient_a_user):
        client.force_login(insider)
        assert client.get(url).status_code == 200


def test_report_through_a_share_link_is_logged(people, client):
    followed_lesion(people.lesion_a, people.clinician_a)
    share = share_lesion(lesion=people.lesion_a, shared_by=people.clinician_a)
    answer = client.get(f"/s/{share_token(share)}/report.pdf", HTTP_USER_AGENT="GP practice")
    assert answer.status_code == 200
    assert people.lesion_a.label in pdf_text(answer.content)
    opening = ShareOpening.objects.get(share=share)
    assert (opening.resource, opening.outcome, opening.user_agent) == ("report", "served", "GP practice")


def pdf_words(content: bytes) -> list[list[str]]:
    """Each page's words as pypdf reads them, a word split across two lines read as two."""
    return [page.extract_text().split() for page in PdfReader(io.BytesIO(content)).pages]


def test_report_is_laid_out_with_whole_words_units_and_who_to_contact(people, client):
    people.clinic_a.contact_phone, people.clinic_a.contact_email = "+44 20 7946 0000", "desk@clinic-a.example.org"
    people.clinic_a.save()
    clinician = UserFactory(first_name="Ines", last_name="Moreau")
    people.clinic_a.memberships.create(user=clinician, role="clinician")
    # Enough photos before the followed pair that the photo grid starts low on a page.
    for month in range(1, 4):
        taken = datetime(2025, month, 1, 10, tzinfo=UTC)
        PredictionFactory(image=LesionImageFactory(lesion=people.lesion_a, uploaded_by=clinician, captured_at=taken))
    _, after = followed_lesion(people.lesion_a, clinician)
    change = after.change_from_previous
    change["after"]["asymmetry"] = 0.2049  # as measured, to four places
    LesionImage.objects.filter(pk=after.pk).update(change_from_previous=change)
    # A version with no space to wrap at, longer than the column set by hand was.
    ModelVersion.objects.filter(pk=ModelVersionFactory().pk).update(version="lite0-2026.11.23.6-recalibrated")
    review_photo(image=after, reviewed_by=clinician, disposition=Disposition.ROUTINE)
    client.force_login(clinician)
    content = client.get(f"/lesions/{people.lesion_a.pk}/report.pdf").content
    text = pdf_text(content)

    assert "Clinician: Ines Moreau." in text
    assert "Clinic contact: Clinic A · +44 20 7946 0000 · desk@clinic-a.example.org." in text
    # Every figure rounded, with its unit or its scale; the raw 4-decimal asymmetry is gone.
    for row in (
        rf"Area \d+\spx² \d+\spx² x{change['area_ratio']:.2f}",
        rf"Longest diameter \d+\spx \d+\spx x{change['diameter_ratio']:.2f}",
        rf"Asymmetry \(0-1\) {change['before']['asymmetry']:.2f} 0\.20 [+-]\d\.\d\d",
        r"Border irregularity \(1 = circle\) \d\.\d\d \d\.\d\d [+-]\d\.\d\d",
    ):
        assert re.search(row, text), row
    words = [word for page in pdf_words(content) for word in page]
    # Headers and the model version wrap between words only, never inside one ('Malignanc y').
    for word in (
        "Photo",
        "taken",
        "Most",
        "likely",
        "Second",
        "Malignancy",
        "score",
        "Model",
        "Measurement",
        "Before",
        "After",
        "Change",
        "lite0-2026.11.23.6-recalibrated",
    ):
        assert word in words, word
    assert "Malignanc" not in words
    # The photos' heading is on the page with the photos.
    reader = PdfReader(io.BytesIO(content))
    [photos_page] = [page for page in reader.pages if "Photos" in page.extract_text().split("\n")]
    assert photos_page.images
