"""The daily photo digest: clinicians who opt in (per clinic) are emailed once a day about the photos their
clinic's patients sent from home since the last digest, through a real SMTP server; the email names no patient."""

from datetime import timedelta

from django.test import Client
from django.utils import timezone

from accounts.models import Membership
from sharing.digests import send_photo_digests
from sharing.tasks import send_photo_digests_task
from tests.factories import LesionImageFactory
from tests.sharing_support import text_of


def opt_in(user) -> None:
    Membership.objects.filter(user=user).update(photo_digest=True)


def test_opted_in_clinicians_get_one_digest_of_new_home_photos(people, smtp_inbox):
    opt_in(people.clinician_a)
    opt_in(people.clinician_b)  # clinic B's patients sent nothing
    now = timezone.now()
    for user, lesion in ((people.patient_a_user, people.lesion_a), (people.patient_a_user, people.lesion_a)):
        LesionImageFactory(lesion=lesion, uploaded_by=user, captured_at=now)
    LesionImageFactory(lesion=people.lesion_b, uploaded_by=people.patient_b_user, captured_at=now)
    LesionImageFactory(
        lesion=people.lesion_b, uploaded_by=people.clinician_a, captured_at=now
    )  # taken at the clinic: not in the digest

    assert send_photo_digests_task.apply().get() == 1
    [digest] = smtp_inbox.messages
    assert digest["To"] == people.clinician_a.email
    assert digest["Subject"] == "SkinTrack: 3 new photos from Clinic A's patients"
    body = text_of(digest)
    assert "3 photos taken at home arrived from 2 patients of Clinic A" in body and "3 still wait for review" in body
    assert "http://testserver/review/" in body
    for patient in (people.patient_a, people.patient_b):
        assert patient.last_name not in body and patient.last_name not in digest["Subject"]

    assert send_photo_digests(now=timezone.now() + timedelta(hours=1)) == 0  # nothing new since
    LesionImageFactory(lesion=people.lesion_a, uploaded_by=people.patient_a_user, captured_at=timezone.now())
    assert send_photo_digests(now=timezone.now() + timedelta(hours=23)) == 1
    assert "1 photo taken at home arrived from 1 patient of Clinic A" in text_of(smtp_inbox.messages[1])
    assert len(smtp_inbox.messages) == 2  # admin A never opted in


def test_a_failed_digest_is_sent_by_the_next_run(people, smtp_down):
    opt_in(people.clinician_a)
    LesionImageFactory(lesion=people.lesion_a, uploaded_by=people.patient_a_user, captured_at=timezone.now())
    assert send_photo_digests() == 0
    assert Membership.objects.get(user=people.clinician_a).photo_digest_sent_at is None


def test_a_clinician_opts_in_and_out_on_the_notifications_page(people):
    client = Client()
    client.force_login(people.clinician_a)
    assert client.post("/my/notifications/", {"clinics": [people.clinic_a.pk]}).status_code == 302
    assert Membership.objects.get(user=people.clinician_a).photo_digest
    refused = client.post("/my/notifications/", {"clinics": [people.clinic_b.pk]})  # not their clinic
    assert refused.status_code == 200 and "Select a valid choice" in refused.content.decode()
    assert Membership.objects.get(user=people.clinician_a).photo_digest
    assert client.post("/my/notifications/", {}).status_code == 302
    assert not Membership.objects.get(user=people.clinician_a).photo_digest
    client.force_login(people.patient_a_user)
    assert client.get("/my/notifications/").status_code == 403
