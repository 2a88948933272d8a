"""The patient portal: the clinic invites a patient by email, the patient chooses a password and then sees only
their own record, adds photos taken at home, and sets their AI-training opt-out; follow-up reminders by email."""

import re
from datetime import datetime, timedelta

import pytest
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from accounts.models import User
from lesions.models import Lesion, LesionImage
from portal import tasks
from portal.reminders import due_lesions, send_due_reminders
from portal.tasks import send_follow_up_reminders_task, send_invitation_email_task
from tests.conftest import api_client
from tests.factories import PASSWORD, LesionImageFactory, PatientFactory, followed_lesion
from tests.images import jpeg_bytes

NEW_PASSWORD = "a-patient-chosen-passphrase"


@pytest.fixture
def new_patient(people):
    """A patient of clinic A without an account yet."""
    return PatientFactory(clinic=people.clinic_a, first_name="Rosa", last_name="Vidal")


def invite(people, patient, user=None, email="rosa.vidal@example.net"):
    return api_client(user or people.clinician_a).post(
        f"/api/patients/{patient.pk}/invite/", {"email": email}, format="json"
    )


def test_invited_patient_sets_a_password_signs_in_and_sees_only_their_record(
    people, new_patient, client, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as queued:
        answer = invite(people, new_patient)
    assert answer.status_code == 202, answer.content
    assert len(queued) == 1
    user = User.objects.get(patient_record=new_patient)
    assert (user.username, user.email, user.has_usable_password()) == ("rosa.vidal@example.net",) * 2 + (False,)
    new_patient.refresh_from_db()
    assert new_patient.user == user
    assert not user.memberships.exists()

    send_invitation_email_task.apply(args=[user.pk])
    [message] = mail.outbox
    assert message.to == ["rosa.vidal@example.net"]
    assert "Clinic A" in message.subject and "Hello Rosa" in message.body
    link = re.search(r"https?://[^/\s]+(/accounts/password/reset/\S+)", message.body).group(1)

    form = client.get(link, follow=True)
    assert form.status_code == 200
    chosen = client.post(form.redirect_chain[-1][0], {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})
    assert chosen.status_code == 302
    user.refresh_from_db()
    assert user.check_password(NEW_PASSWORD)
    assert client.get(link, follow=True).context["validlink"] is False  # the link works once

    token = api_client().post("/api/auth/token/", {"username": user.username, "password": NEW_PASSWORD})
    assert token.status_code == 200
    own = api_client(user)
    assert [patient["id"] for patient in own.get("/api/patients/").json()["results"]] == [new_patient.pk]
    assert own.get("/api/lesions/").json()["count"] == 0
    assert own.get(f"/api/patients/{people.patient_a.pk}/").status_code == 404
    assert own.get(f"/api/lesions/{people.lesion_a.pk}/timeline/").status_code == 404


def test_the_invitation_subject_is_plain_text(people, new_patient):
    people.clinic_a.name = "Smith & O'Neil <Dermatology>"
    people.clinic_a.save()
    assert invite(people, new_patient).status_code == 202
    send_invitation_email_task.apply(args=[User.objects.get(patient_record=new_patient).pk])
    assert mail.outbox[0].subject == "Your SkinTrack account at Smith & O'Neil <Dermatology>"


def test_only_the_patients_clinic_invites(people, new_patient):
    assert invite(people, new_patient, user=people.clinician_b).status_code == 404
    assert invite(people, people.patient_a, user=people.patient_b_user).status_code == 404
    assert invite(people, people.patient_a, user=people.patient_a_user).status_code == 403
    assert api_client().post(f"/api/patients/{new_patient.pk}/invite/", {"email": "x@example.net"}).status_code == 401
    new_patient.refresh_from_db()
    assert new_patient.user is None


def test_invitation_refuses_a_taken_address_and_an_account_in_use(people, new_patient):
    for known_to_the_clinic in (people.patient_b_user, people.admin_a):
        taken = invite(people, new_patient, email=known_to_the_clinic.email)
        assert taken.status_code == 400 and "Another account at this clinic already uses" in taken.json()["email"][0]
    in_use = invite(people, people.patient_a, email="someone.new@example.net")
    assert in_use.status_code == 400 and "already has an account" in in_use.json()["email"][0]
    assert invite(people, new_patient, email="not-an-email").status_code == 400
    assert invite(people, new_patient).status_code == 202
    again = invite(people, new_patient, email="rosa@example.net")  # not signed in yet: re-invite, new address
    assert again.status_code == 202
    new_patient.refresh_from_db()
    assert new_patient.user.email == "rosa@example.net" and User.objects.filter(email__icontains="rosa").count() == 1


def test_an_address_with_an_account_at_another_clinic_is_answered_like_any_other(people, new_patient, client):
    fresh_patient = PatientFactory(clinic=people.clinic_a)
    free = invite(people, fresh_patient, email="nobody.yet@example.net")
    taken = invite(people, new_patient, email=people.clinician_b.email.upper())
    assert (free.status_code, taken.status_code) == (202, 202)
    assert set(free.json()) == set(taken.json()) and taken.json()["email"].lower() == people.clinician_b.email
    new_patient.refresh_from_db()
    assert new_patient.user is None
    # The address's holder learns of the invitation; the clinic learns nothing, on the page either.
    invitation = new_patient.invitations.get()
    tasks.send_address_in_use_email_task.apply(args=[invitation.pk])
    tasks.send_address_in_use_email_task.apply(args=[invitation.pk])
    [notice] = mail.outbox
    assert [address.lower() for address in notice.to] == [people.clinician_b.email]
    assert "Clinic A tried to invite this address" in notice.subject and "/accounts/password/reset/" in notice.body
    client.force_login(people.clinician_a)
    sent = client.post(f"/patients/{new_patient.pk}/invite/", {"email": people.clinician_b.email}, follow=True)
    assert f"an email went to {people.clinician_b.email}" in sent.content.decode()
    form = client.get(f"/patients/{new_patient.pk}/invite/").content.decode()
    assert f'value="{people.clinician_b.email}"' in form
    people.clinician_b.refresh_from_db()
    assert people.clinician_b.check_password(PASSWORD)


def test_a_sender_is_held_to_the_hourly_invitation_limit(
    people, new_patient, settings, client, django_capture_on_commit_callbacks
):
    settings.SKINTRACK_INVITATIONS_PER_HOUR = 2
    with django_capture_on_commit_callbacks() as queued:
        assert invite(people, new_patient).status_code == 202
        assert invite(people, new_patient, email=people.clinician_b.email).status_code == 202
        refused = invite(people, new_patient, email="third@example.net")
    assert refused.status_code == 429 and "sent 2 invitations in the last hour" in refused.json()["detail"]
    assert 59 * 60 <= int(refused["Retry-After"]) <= 60 * 60 + 1
    client.force_login(people.clinician_a)
    page = client.post(f"/patients/{new_patient.pk}/invite/", {"email": "third@example.net"})
    assert page.status_code == 429 and "Try again in 60 minute(s)" in page.content.decode()
    assert len(queued) == 2 and new_patient.invitations.count() == 2
    assert invite(people, new_patient, user=people.admin_a, email="third@example.net").status_code == 202


def test_invitation_page_for_clinic_members(people, new_patient, client):
    client.force_login(people.patient_a_user)
    assert client.get(f"/patients/{new_patient.pk}/invite/").status_code == 404
    assert client.get(f"/patients/{people.patient_a.pk}/invite/").status_code == 403
    client.force_login(people.clinician_a)
    assert client.get(f"/patients/{new_patient.pk}/invite/").status_code == 200
    sent = client.post(f"/patients/{new_patient.pk}/invite/", {"email": "rosa.vidal@example.net"})
    assert sent.status_code == 302
    new_patient.refresh_from_db()
    assert new_patient.user.email == "rosa.vidal@example.net"


def test_patient_adds_a_photo_taken_at_home_to_their_own_lesion_only(people):
    patient = api_client(people.patient_a_user)

    def upload(lesion, client):
        photo = SimpleUploadedFile("home.jpg", jpeg_bytes(), content_type="image/jpeg")
        return client.post(f"/api/lesions/{lesion.pk}/images/", {"image": photo, "modality": "clinical"})

    added = upload(people.lesion_a, patient)
    assert added.status_code == 201, added.content
    assert added.json()["taken_by_patient"] is True
    assert LesionImage.objects.get(pk=added.json()["id"]).uploaded_by == people.patient_a_user
    assert upload(people.lesion_b, patient).status_code == 404
    by_clinic = upload(people.lesion_a, api_client(people.clinician_a))
    assert by_clinic.status_code == 201 and by_clinic.json()["taken_by_patient"] is False
    assert upload(people.lesion_a, api_client(people.clinician_b)).status_code == 404
    assert LesionImage.objects.filter(lesion=people.lesion_b).count() == 0


def test_patient_sets_their_ai_training_opt_out_and_nothing_else(people):
    own_url = f"/api/patients/{people.patient_a.pk}/"
    patient = api_client(people.patient_a_user)
    opted_out = patient.patch(own_url, {"ai_training_opt_out": True}, format="json")
    assert opted_out.status_code == 200 and opted_out.json()["ai_training_opt_out"] is True
    people.patient_a.refresh_from_db()
    assert people.patient_a.ai_training_opt_out is True
    for body in ({"first_name": "Q"}, {"ai_training_opt_out": False, "family_physician_email": "me@example.net"}):
        assert patient.patch(own_url, body, format="json").status_code == 403
    assert patient.delete(own_url).status_code == 403
    other = api_client(people.patient_b_user)
    assert other.patch(own_url, {"ai_training_opt_out": False}, format="json").status_code == 404
    first_name = people.patient_a.first_name
    people.patient_a.refresh_from_db()
    assert (people.patient_a.ai_training_opt_out, people.patient_a.first_name) == (True, first_name)
    assert people.patient_a.family_physician_email == "gp@example.org"
    clinician = api_client(people.clinician_a).patch(own_url, {"first_name": "Ana", "ai_training_opt_out": False})
    assert clinician.status_code == 200 and clinician.json()["first_name"] == "Ana"


def test_clinician_sets_a_follow_up_interval_and_the_api_shows_when_a_photo_is_due(people):
    taken = datetime.fromisoformat("2026-05-31T09:00:00+00:00")
    LesionImageFactory(lesion=people.lesion_a, uploaded_by=people.clinician_a, captured_at=taken)
    url = f"/api/lesions/{people.lesion_a.pk}/"
    answer = api_client(people.clinician_a).patch(url, {"follow_up_interval": 3, "follow_up_unit": "months"})
    assert answer.status_code == 200
    assert answer.json()["follow_up_due_at"].startswith("2026-08-31T09:00:00")
    in_days = api_client(people.clinician_a).patch(url, {"follow_up_interval": 10, "follow_up_unit": "days"})
    assert in_days.json()["follow_up_due_at"].startswith("2026-06-10T09:00:00")
    listed = api_client(people.patient_a_user).get("/api/lesions/").json()["results"]
    assert listed[0]["follow_up_due_at"].startswith("2026-06-10T09:00:00")
    assert api_client(people.clinician_a).patch(url, {"follow_up_interval": 0}).status_code == 400
    assert api_client(people.patient_a_user).patch(url, {"follow_up_interval": 1}).status_code == 403
    assert api_client(people.clinician_b).patch(url, {"follow_up_interval": 1}).status_code == 404


def plan_follow_up(lesion: Lesion, *, months: int, last_photo: datetime, user) -> None:
    LesionImageFactory(lesion=lesion, uploaded_by=user, captured_at=last_photo)
    Lesion.objects.filter(pk=lesion.pk).update(follow_up_interval=months, follow_up_unit="months")


def test_due_patient_is_reminded_once_per_due_period(people):
    now = timezone.now()
    plan_follow_up(people.lesion_a, months=3, last_photo=now - timedelta(days=100), user=people.clinician_a)
    plan_follow_up(people.lesion_b, months=12, last_photo=now - timedelta(days=100), user=people.clinician_a)
    assert [lesion.pk for lesion in due_lesions(Lesion.objects.all(), now=now)] == [people.lesion_a.pk]

    assert send_follow_up_reminders_task.apply().get() == 1
    [reminder] = mail.outbox
    assert reminder.to == [people.patient_a_user.email]
    assert people.lesion_a.label in reminder.body and people.lesion_b.label not in reminder.body
    assert send_due_reminders(now=now + timedelta(days=5)) == 0  # the same due period: no second email

    next_photo = timezone.now()  # taken after the reminder went out
    LesionImageFactory(lesion=people.lesion_a, uploaded_by=people.patient_a_user, captured_at=next_photo)
    assert send_due_reminders(now=next_photo + timedelta(days=60)) == 0  # the new photo is not old enough yet
    assert send_due_reminders(now=next_photo + timedelta(days=95)) == 1  # the next period is due
    assert len(mail.outbox) == 2


def test_no_reminder_without_an_email_address_or_a_plan(people):
    now = timezone.now()
    plan_follow_up(people.lesion_a, months=1, last_photo=now - timedelta(days=60), user=people.clinician_a)
    LesionImageFactory(lesion=people.lesion_b, uploaded_by=people.clinician_a, captured_at=now - timedelta(days=400))
    User.objects.filter(pk=people.patient_a_user.pk).update(email="")
    assert send_due_reminders(now=now) == 0
    assert mail.outbox == []


def test_a_failed_reminder_is_tried_again_by_the_next_run(people, smtp_down):
    now = timezone.now()
    plan_follow_up(people.lesion_a, months=1, last_photo=now - timedelta(days=60), user=people.clinician_a)
    assert send_due_reminders(now=now) == 0
    people.lesion_a.refresh_from_db()
    assert people.lesion_a.follow_up_reminded_at is None


def test_beat_runs_the_reminder_task(settings):
    from skintrack.celery import app

    [entry] = [entry for entry in settings.CELERY_BEAT_SCHEDULE.values() if "reminder" in entry["task"]]
    assert entry["task"] == send_follow_up_reminders_task.name
    assert entry["task"] in app.tasks


def test_patient_sets_the_opt_out_on_their_own_page(people, client):
    client.force_login(people.clinician_a)
    assert client.get("/my/ai-training/").status_code == 403
    client.force_login(people.patient_a_user)
    assert client.get("/my/ai-training/").status_code == 200
    assert client.post("/my/ai-training/", {"ai_training_opt_out": "on"}).status_code == 302
    people.patient_a.refresh_from_db()
    people.patient_b.refresh_from_db()
    assert people.patient_a.ai_training_opt_out is True and people.patient_b.ai_training_opt_out is False
    client.post("/my/ai-training/", {})
    people.patient_a.refresh_from_db()
    assert people.patient_a.ai_training_opt_out is False


def test_a_patient_cannot_open_another_patients_record_share_or_image(people, client):
    """Patient B against everything of patient A's, by page and by API (share-link guessing: test_sharing)."""
    from sharing.services import share_lesion

    [image_a, _] = followed_lesion(people.lesion_a, people.clinician_a)
    share_a = share_lesion(lesion=people.lesion_a, shared_by=people.patient_a_user)
    pages = [
        f"/patients/{people.patient_a.pk}/",
        f"/lesions/{people.lesion_a.pk}/",
        f"/lesions/{people.lesion_a.pk}/report.pdf",
        f"/lesions/{people.lesion_a.pk}/share/",
        f"/photos/{image_a.pk}/card/",
    ]
    apis = [
        f"/api/patients/{people.patient_a.pk}/",
        f"/api/lesions/{people.lesion_a.pk}/timeline/",
        f"/api/images/{image_a.pk}/",
        f"/api/images/{image_a.pk}/file/",
        f"/api/images/{image_a.pk}/thumbnail/",
        f"/api/shares/{share_a.pk}/",
    ]
    for owner_sees in (True, False):
        user = people.patient_a_user if owner_sees else people.patient_b_user
        client.force_login(user)
        for url in pages:
            assert client.get(url).status_code == (200 if owner_sees else 404), (user, url)
        for url in apis:
            assert api_client(user).get(url).status_code == (200 if owner_sees else 404), (user, url)
    assert client.post(f"/shares/{share_a.pk}/revoke/").status_code == 404
    assert api_client(people.patient_b_user).post(f"/api/shares/{share_a.pk}/revoke/").status_code == 404
    assert people.patient_a.full_name not in client.get("/shares/").content.decode()
    share_a.refresh_from_db()
    assert share_a.revoked_at is None
