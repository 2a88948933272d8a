"""What the family physician gets: the confirmed diagnosis and its date, the clinician's review and plan, the clinic's
contact and the sender's name come first in the email, the shared page and the PDF; the model's output follows,
labelled as such. No patient name in the subject; attachments only where the clinic allows them."""

import io

import pytest
from django.test import Client
from pypdf import PdfReader

from lesions.services import confirm_diagnosis, review_photo
from lesions.summary import MODEL_OUTPUT_HEADING
from sharing.links import share_token
from sharing.models import Share
from sharing.services import share_lesion
from sharing.tasks import send_share_email_task
from tests.conftest import api_client
from tests.factories import followed_lesion
from tests.sharing_support import share_link_path, text_of

# In the order the physician must read them.
CLINICAL_FIRST = [
    "Ada Lovelace",
    "Clinic A · +41 44 123 45 67 · dermatology@clinic-a.example",
    "Melanoma in situ",
    "2026-10-02",
    "biopsy or excision",
    "Please come in to have it removed.",
    MODEL_OUTPUT_HEADING,
    "melanoma",
]


@pytest.fixture
def reviewed_lesion(people):
    people.clinician_a.first_name, people.clinician_a.last_name = "Ada", "Lovelace"
    people.clinician_a.save()
    people.clinic_a.contact_phone, people.clinic_a.contact_email = "+41 44 123 45 67", "dermatology@clinic-a.example"
    people.clinic_a.save()
    _, after = followed_lesion(people.lesion_a, people.clinician_a)
    review_photo(
        image=after,
        reviewed_by=people.clinician_a,
        disposition="biopsy",
        note_to_patient="Please come in to have it removed.",
    )
    confirm_diagnosis(
        lesion=people.lesion_a,
        recorded_by=people.clinician_a,
        dx="mel_in_situ",
        dx_type="histo",
        confirmed_on="2026-10-02",
    )
    return people.lesion_a


def in_order(text: str, expected: list[str]) -> None:
    """Each part appears after the one before it."""
    lowered, at = text.lower(), 0
    for part in expected:
        found = lowered.find(part.lower(), at)
        assert found != -1, f"{part!r} missing after position {at}"
        at = found + len(part)


def pdf_text(content: bytes) -> str:
    return " ".join(" ".join(page.extract_text() for page in PdfReader(io.BytesIO(content)).pages).split())


def test_email_page_and_pdf_put_the_diagnosis_review_and_contact_before_the_model_output(
    people, reviewed_lesion, smtp_inbox
):
    share = share_lesion(lesion=reviewed_lesion, shared_by=people.clinician_a)
    send_share_email_task.apply(args=[share.pk])
    [message] = smtp_inbox.messages
    assert people.patient_a.last_name not in message["Subject"]
    body = text_of(message)
    in_order(body, CLINICAL_FIRST)
    assert "Confirmed diagnosis: Melanoma in situ, by histopathology on 2026-10-02" in body
    assert people.clinician_a.username not in body

    gp = Client()
    link = share_link_path(message)
    page = gp.get(link).content.decode()
    in_order(page, CLINICAL_FIRST)
    report = pdf_text(gp.get(f"{link}report.pdf").content)
    in_order(report, CLINICAL_FIRST)
    assert "Confirmed diagnosis: Melanoma in situ, by histopathology on 2026-10-02." in report
    assert "Sent by Ada Lovelace." in report


def test_a_sender_without_a_full_name_is_named_by_role_never_by_username(people, reviewed_lesion, smtp_inbox):
    share = share_lesion(lesion=reviewed_lesion, shared_by=people.admin_a)
    send_share_email_task.apply(args=[share.pk])
    body = text_of(smtp_inbox.messages[0])
    assert "Sent by: a clinician of Clinic A" in body and people.admin_a.username not in body
    by_patient = share_lesion(lesion=reviewed_lesion, shared_by=people.patient_a_user)
    send_share_email_task.apply(args=[by_patient.pk])
    assert f"Sent by: {people.patient_a.full_name}" in text_of(smtp_inbox.messages[1])


def test_attachments_only_where_the_clinic_allows_them_with_a_warning(people, reviewed_lesion, client):
    url = f"/api/lesions/{reviewed_lesion.pk}/share/"
    refused = api_client(people.clinician_a).post(url, {"attach_pdf": True}, format="json")
    assert refused.status_code == 400
    assert "Clinic A does not allow attachments" in refused.json()["attach_pdf"][0]
    refused = api_client(people.patient_a_user).post(url, {"attach_images": True}, format="json")
    assert refused.status_code == 400 and "attach_images" in refused.json()
    assert not Share.objects.exists()
    client.force_login(people.clinician_a)
    form = client.get(f"/lesions/{reviewed_lesion.pk}/share/").content.decode()
    assert "Attach the PDF report" not in form and "does not allow attachments" in form

    people.clinic_a.allow_email_attachments = True
    people.clinic_a.save()
    form = client.get(f"/lesions/{reviewed_lesion.pk}/share/").content.decode()
    assert "Attach the PDF report" in form and "Email is not encrypted end to end" in form
    assert api_client(people.clinician_a).post(url, {"attach_pdf": True}, format="json").status_code == 202


def test_openings_count_page_views_not_the_files_a_page_pulls_in(people, reviewed_lesion, client):
    share = share_lesion(lesion=reviewed_lesion, shared_by=people.clinician_a)
    token = share_token(share)
    assert client.get(f"/s/{token}/").status_code == 200
    for image in reviewed_lesion.images.all():
        assert client.get(f"/s/{token}/images/{image.pk}/").status_code == 200
    assert client.get(f"/s/{token}/report.pdf").status_code == 200
    listed = api_client(people.clinician_a).get(f"/api/shares/{share.pk}/").json()
    assert listed["opening_count"] == 1 and len(listed["openings"]) == 4
    assert client.get(f"/s/{token}/").status_code == 200
    assert api_client(people.clinician_a).get(f"/api/shares/{share.pk}/").json()["opening_count"] == 2
