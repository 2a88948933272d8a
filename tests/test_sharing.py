"""Sharing a lesion by email: a real SMTP server on loopback receives the message; its link opens without signing
in, answers 410 once revoked or expired, and every request through it is logged."""

import io
from datetime import timedelta

import pytest
from django.core import signing
from django.utils import timezone
from pypdf import PdfReader

from accounts.models import Clinic
from audit.models import AuditEvent
from sharing.links import SALT, share_token
from sharing.models import Share, ShareOpening
from sharing.services import share_lesion
from sharing.tasks import send_share_email_task
from tests.conftest import api_client
from tests.factories import AFTER_TAKEN, LesionImageFactory, followed_lesion
from tests.sharing_support import share_link_path, text_of

BROWSER = "Mozilla/5.0 (X11; Linux x86_64) TestBrowser/1.0"


@pytest.fixture
def shared_lesion(people):
    followed_lesion(people.lesion_a, people.clinician_a)
    return people.lesion_a


def share_through_api(people, user=None, **body) -> dict:
    url = f"/api/lesions/{people.lesion_a.pk}/share/"
    answer = api_client(user or people.clinician_a).post(url, body, format="json")
    assert answer.status_code == 202, answer.content
    return answer.json()


def test_share_email_reaches_the_family_physician_with_summary_and_link(people, shared_lesion, smtp_inbox, client):
    created = share_through_api(people, message="Please see her within two weeks.")
    assert created["delivery_status"] == "queued"
    assert created["recipient_email"] == "gp@example.org"
    expires = timezone.datetime.fromisoformat(created["expires_at"])
    assert timedelta(days=13, hours=23) < expires - timezone.now() <= timedelta(days=14)

    send_share_email_task.apply(args=[created["id"]])

    [message] = smtp_inbox.messages
    assert message["To"] == "gp@example.org"
    assert message["Subject"] == "SkinTrack: a skin lesion shared with you by Clinic A"  # no patient name
    change = people.lesion_a.images.latest("captured_at").change_from_previous  # as the worker measured it
    zoom = change["registration"]["transform"]["scale"]  # the later photo's sizes on the earlier photo's scale
    area = change["before"]["area_pixels"], change["after"]["area_pixels"] * zoom**2
    diameter = change["before"]["longest_diameter_pixels"], change["after"]["longest_diameter_pixels"] * zoom
    body = text_of(message)
    for expected in [
        "Dear Dr. Ada Hart",
        "Please see her within two weeks.",
        f"Lesion: {people.lesion_a.label}, back",
        "first 2026-03-02, latest 2026-09-14",
        "Most likely: melanoma (57%)",
        "Second: melanocytic nevus (25%)",
        "Malignancy score: 64%",
        "EfficientNet-Lite0 lite0-2026.11-test",
        "Flagged as changed: " + " ".join(change["reasons"]),
        # A unit never leaves its figure.
        f"Area: x{change['area_ratio']:.2f} ({area[0]:.0f}\N{NO-BREAK SPACE}px² -> {area[1]:.0f}\N{NO-BREAK SPACE}px²)",
        f"Longest diameter: x{change['diameter_ratio']:.2f} "
        f"({diameter[0]:.0f}\N{NO-BREAK SPACE}px -> {diameter[1]:.0f}\N{NO-BREAK SPACE}px)",
        f"Asymmetry (0-1): {change['asymmetry_change']:+.2f}",
        f"so a photo taken closer does not read as larger. {change['registration']['quality_text']}",
        "not a diagnosis",
    ]:
        assert expected in body, expected
    share = Share.objects.get(pk=created["id"])
    assert (share.delivery_status, share.delivery_attempts, share.delivery_error) == ("sent", 1, "")
    assert share.sent_at is not None

    link = share_link_path(message)
    page = client.get(link, HTTP_USER_AGENT=BROWSER)
    assert page.status_code == 200
    content = page.content.decode()
    assert people.lesion_a.label in content and "melanoma (57%)" in content and "Flagged as changed" in content
    assert page["Cache-Control"] == "no-store, private" and page["Referrer-Policy"] == "no-referrer"
    opening = ShareOpening.objects.get(share=share)
    assert (opening.resource, opening.outcome, opening.ip_address, opening.user_agent) == (
        "page",
        "served",
        "127.0.0.1",
        BROWSER,
    )

    revoked = api_client(people.clinician_a).post(f"/api/shares/{share.pk}/revoke/")
    assert revoked.status_code == 200 and revoked.json()["state"] == "revoked"
    gone = client.get(link)
    assert gone.status_code == 410
    assert "withdrew this link" in gone.content.decode()
    assert list(share.openings.values_list("outcome", flat=True)) == ["revoked", "served"]


def test_expired_link_answers_410_and_says_so(people, shared_lesion, client):
    share = share_lesion(lesion=shared_lesion, shared_by=people.clinician_a, expires_in_days=3)
    link = f"/s/{share_token(share)}/"
    assert client.get(link).status_code == 200
    long_ago = timezone.now() - timedelta(days=10)
    Share.objects.filter(pk=share.pk).update(created_at=long_ago, expires_at=long_ago + timedelta(days=3))
    gone = client.get(link)
    assert gone.status_code == 410
    assert "This link expired on" in gone.content.decode()
    assert client.get(f"/s/{share_token(share)}/report.pdf").status_code == 410
    assert list(share.openings.order_by("id").values_list("resource", "outcome")) == [
        ("page", "served"),
        ("page", "expired"),
        ("report", "expired"),
    ]


def test_every_opening_of_page_image_and_report_is_logged(people, shared_lesion, client):
    share = share_lesion(lesion=shared_lesion, shared_by=people.clinician_a)
    token = share_token(share)
    image = shared_lesion.images.first()
    assert client.get(f"/s/{token}/").status_code == 200
    assert client.get(f"/s/{token}/", REMOTE_ADDR="10.1.2.3", HTTP_USER_AGENT=BROWSER).status_code == 200
    photo = client.get(f"/s/{token}/images/{image.pk}/")
    assert photo.status_code == 200 and photo["Content-Type"] == "image/jpeg"
    report = client.get(f"/s/{token}/report.pdf")
    assert report.status_code == 200 and report["Content-Type"] == "application/pdf"
    openings = list(share.openings.order_by("id").values_list("resource", "ip_address", "user_agent"))
    assert openings == [
        ("page", "127.0.0.1", ""),
        ("page", "10.1.2.3", BROWSER),
        ("image", "127.0.0.1", ""),
        ("report", "127.0.0.1", ""),
    ]
    listed = api_client(people.clinician_a).get(f"/api/shares/{share.pk}/").json()
    # Openings count views of the page; the photo and report it pulled in are logged, not counted.
    assert listed["opening_count"] == 2 and len(listed["openings"]) == 4


def test_tampered_forged_and_guessed_links_answer_404_and_open_nothing(people, shared_lesion, client):
    share = share_lesion(lesion=shared_lesion, shared_by=people.clinician_a)
    other = share_lesion(lesion=people.lesion_b, shared_by=people.clinician_a)
    token = share_token(share)
    payload, signature = token.rsplit(":", 1)
    forged_payload = signing.b64_encode(f'{{"share":{other.pk},"nonce":"{share.nonce}"}}'.encode()).decode()
    candidates = [
        token[:-1] + ("A" if token[-1] != "A" else "B"),  # one character of the signature changed
        f"{forged_payload}:{signature}",  # another share's id under this link's signature
        signing.Signer(salt="another-salt").sign_object({"share": other.pk, "nonce": other.nonce}),
        signing.Signer(salt=SALT).sign_object({"share": other.pk, "nonce": "guessed"}),  # right key, guessed nonce
        signing.Signer(salt=SALT).sign_object({"share": 999999, "nonce": share.nonce}),
        "not-a-token",
    ]
    for candidate in candidates:
        for path in (f"/s/{candidate}/", f"/s/{candidate}/report.pdf", f"/s/{candidate}/images/1/"):
            assert client.get(path).status_code == 404, path
    assert not ShareOpening.objects.exists()
    # Each attempt is on the audit trail, as an opening that matched no share, without the token it tried.
    attempts = AuditEvent.objects.filter(action="open_share")
    assert attempts.count() == 3 * len(candidates)
    assert set(attempts.values_list("status_code", "patient_id", "clinic_id")) == {(404, None, None)}
    paths = {"/s/[token]/", "/s/[token]/report.pdf", "/s/[token]/images/1/"}
    assert set(attempts.values_list("path", flat=True)) == paths


def test_a_link_shows_only_its_own_lesions_images(people, shared_lesion, client):
    [image_b, _] = followed_lesion(people.lesion_b, people.clinician_a)
    share_a = share_lesion(lesion=shared_lesion, shared_by=people.patient_a_user)
    assert client.get(f"/s/{share_token(share_a)}/images/{image_b.pk}/").status_code == 404
    page = client.get(f"/s/{share_token(share_a)}/").content.decode()
    assert people.patient_a.full_name in page and people.patient_b.full_name not in page


def test_attachments_ticked_by_the_sender_travel_with_the_email(people, shared_lesion, smtp_inbox):
    people.clinic_a.allow_email_attachments = True
    people.clinic_a.save()
    created = share_through_api(people, to="dermatology@example.org", attach_pdf=True, attach_images=True)
    send_share_email_task.apply(args=[created["id"]])
    [message] = smtp_inbox.messages
    assert message["To"] == "dermatology@example.org"
    attachments = {part.get_filename(): part for part in message.iter_attachments()}
    pdfs = [part for part in attachments.values() if part.get_content_type() == "application/pdf"]
    photos = [part for part in attachments.values() if part.get_content_type() == "image/jpeg"]
    assert len(pdfs) == 1 and len(photos) == 2
    assert all(photo.get_content()[:3] == b"\xff\xd8\xff" for photo in photos)
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(pdfs[0].get_content())).pages)
    assert people.lesion_a.label in text and "melanoma 57%" in text


def test_smtp_server_down_marks_the_share_failed_after_bounded_retries(people, shared_lesion, smtp_down):
    created = share_through_api(people)
    result = send_share_email_task.apply(args=[created["id"]])
    assert result.successful()
    share = Share.objects.get(pk=created["id"])
    assert share.delivery_status == "failed"
    assert share.delivery_attempts == send_share_email_task.max_retries + 1
    assert "ConnectionRefusedError" in share.delivery_error
    shown = api_client(people.clinician_a).get(f"/api/shares/{share.pk}/").json()
    assert (shown["delivery_status"], shown["delivery_error"]) == ("failed", share.delivery_error)


def test_recipient_refused_by_the_server_records_the_smtp_answer(people, shared_lesion, smtp_inbox):
    smtp_inbox.refuse.add("nobody@example.org")
    created = share_through_api(people, to="nobody@example.org")
    send_share_email_task.apply(args=[created["id"]])
    share = Share.objects.get(pk=created["id"])
    assert share.delivery_status == "failed"
    assert "550" in share.delivery_error and "No such mailbox here" in share.delivery_error
    assert smtp_inbox.messages == []


def test_a_share_revoked_before_sending_is_never_sent(people, shared_lesion, smtp_inbox):
    created = share_through_api(people)
    api_client(people.clinician_a).post(f"/api/shares/{created['id']}/revoke/")
    send_share_email_task.apply(args=[created["id"]])
    assert smtp_inbox.messages == []
    assert Share.objects.get(pk=created["id"]).delivery_status == "cancelled"


def test_a_sent_share_is_not_sent_again_when_its_task_runs_twice(people, shared_lesion, smtp_inbox):
    created = share_through_api(people)
    send_share_email_task.apply(args=[created["id"]])
    send_share_email_task.apply(args=[created["id"]])
    assert len(smtp_inbox.messages) == 1


def test_share_email_is_queued_when_the_share_commits(people, shared_lesion, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        share_through_api(people)
    assert len(callbacks) == 1


def test_share_request_is_validated(people, shared_lesion):
    client = api_client(people.clinician_a)
    url = f"/api/lesions/{people.lesion_a.pk}/share/"
    for days in (0, 91):
        answer = client.post(url, {"expires_in_days": days}, format="json")
        assert answer.status_code == 400 and "expires_in_days" in answer.json()
    assert client.post(url, {"to": "not-an-address"}, format="json").status_code == 400
    people.patient_a.family_physician_email = ""
    people.patient_a.save()
    answer = client.post(url, {}, format="json")
    assert answer.status_code == 400
    assert "No family physician email is on file" in answer.json()["to"][0]
    assert not Share.objects.exists()
    chosen = client.post(url, {"to": "skin@example.org", "expires_in_days": 90}, format="json")
    assert chosen.status_code == 202 and chosen.json()["recipient_name"] == ""


def test_only_the_patients_clinic_and_the_patient_share_list_and_revoke(people, shared_lesion):
    by_clinic = share_through_api(people)
    by_patient = share_through_api(people, user=people.patient_a_user)
    shares_of_a = {by_clinic["id"], by_patient["id"]}
    url = f"/api/lesions/{people.lesion_a.pk}/share/"
    for outsider in (people.clinician_b, people.patient_b_user):
        assert api_client(outsider).post(url, {}, format="json").status_code == 404
        assert api_client(outsider).get("/api/shares/").json()["count"] == 0
        assert api_client(outsider).get(f"/api/shares/{by_clinic['id']}/").status_code == 404
        assert api_client(outsider).post(f"/api/shares/{by_clinic['id']}/revoke/").status_code == 404
    assert api_client().post(url, {}, format="json").status_code == 401
    assert api_client().get("/api/shares/").status_code == 401
    for insider in (people.clinician_a, people.admin_a, people.patient_a_user):
        assert {share["id"] for share in api_client(insider).get("/api/shares/").json()["results"]} == shares_of_a
    assert Share.objects.filter(revoked_at__isnull=False).count() == 0
    assert api_client(people.patient_a_user).post(f"/api/shares/{by_clinic['id']}/revoke/").status_code == 200


def test_share_pages_for_signed_in_users(people, shared_lesion, client):
    client.force_login(people.patient_b_user)
    assert client.get(f"/lesions/{people.lesion_a.pk}/share/").status_code == 404
    assert client.post(f"/lesions/{people.lesion_a.pk}/share/", {"expires_in_days": 14}).status_code == 404
    client.force_login(people.clinician_a)
    form = client.get(f"/lesions/{people.lesion_a.pk}/share/")
    assert form.status_code == 200 and "gp@example.org" in form.content.decode()
    people.clinic_a.allow_email_attachments = True
    people.clinic_a.save()
    sent = client.post(f"/lesions/{people.lesion_a.pk}/share/", {"expires_in_days": 7, "attach_pdf": "on"})
    assert sent.status_code == 302
    share = Share.objects.get()
    assert share.attach_pdf and not share.attach_images
    assert timedelta(days=6, hours=23) < share.expires_at - share.created_at <= timedelta(days=7)
    listing = client.get("/shares/").content.decode()
    assert "gp@example.org" in listing and "Queued" in listing
    client.force_login(people.patient_b_user)
    assert "gp@example.org" not in client.get("/shares/").content.decode()
    assert client.post(f"/shares/{share.pk}/revoke/").status_code == 404
    client.force_login(people.patient_a_user)
    assert client.post(f"/shares/{share.pk}/revoke/").status_code == 302
    share.refresh_from_db()
    assert share.revoked_by == people.patient_a_user


def test_sharing_endpoints_are_in_the_openapi_schema(people):
    schema = api_client(people.clinician_a).get("/api/schema/", HTTP_ACCEPT="application/json").json()
    paths = ["/api/lesions/{id}/share/", "/api/shares/", "/api/shares/{id}/", "/api/shares/{id}/revoke/"]
    # The patient self-service serializer must not knock the patients' routes out of the schema.
    for path in [*paths, "/api/patients/{id}/invite/", "/api/patients/{id}/"]:
        assert path in schema["paths"], path
    assert "202" in schema["paths"]["/api/lesions/{id}/share/"]["post"]["responses"]


def test_share_link_openings_sharing_and_report_downloads_reach_the_audit_trail(people, shared_lesion, client):
    created = share_through_api(people)
    share = Share.objects.get(pk=created["id"])
    client.get(f"/s/{share_token(share)}/", HTTP_USER_AGENT=BROWSER)
    client.force_login(people.clinician_a)
    client.get(f"/lesions/{people.lesion_a.pk}/report.pdf")
    events = AuditEvent.objects.filter(patient_id=people.patient_a.pk)
    shared = events.get(action="share")
    assert (shared.actor, shared.status_code) == (people.clinician_a, 202)
    opened = events.get(action="open_share")
    assert (opened.actor, opened.user_agent, opened.target) == (None, BROWSER, f"share {share.pk}")
    assert events.get(action="export").actor == people.clinician_a


def test_a_sender_is_held_to_the_hourly_share_limit_and_nothing_half_done_is_left(
    people, shared_lesion, settings, client
):
    settings.SKINTRACK_SHARES_PER_HOUR = 2
    earliest = share_lesion(lesion=people.lesion_a, shared_by=people.clinician_a)
    Share.objects.filter(pk=earliest.pk).update(created_at=timezone.now() - timedelta(minutes=50))
    share_through_api(people)

    refused = api_client(people.clinician_a).post(f"/api/lesions/{people.lesion_a.pk}/share/", {}, format="json")
    assert refused.status_code == 429
    assert "shared 2 times in the last hour" in refused.json()["detail"]
    # the earliest share leaves the hour about ten minutes from now
    assert 9 * 60 <= int(refused["Retry-After"]) <= 10 * 60 + 1
    client.force_login(people.clinician_a)
    page = client.post(f"/lesions/{people.lesion_a.pk}/share/", {"expires_in_days": 14})
    assert page.status_code == 429 and "Try again in 10 minute(s)" in page.content.decode()
    assert Share.objects.filter(created_by=people.clinician_a).count() == 2

    # the limit is the sender's own: a colleague and the patient still share
    share_through_api(people, user=people.admin_a)
    share_through_api(people, user=people.patient_a_user)
    Share.objects.filter(pk=earliest.pk).update(created_at=timezone.now() - timedelta(minutes=61))
    share_through_api(people)


def test_a_link_shows_only_the_photos_it_was_sent_with(people, shared_lesion, client, smtp_inbox):
    before, after = shared_lesion.images.order_by("captured_at")
    clinic = shared_lesion.patient.clinic
    clinic.allow_email_attachments = True
    clinic.save(update_fields=["allow_email_attachments"])
    share = share_lesion(lesion=shared_lesion, shared_by=people.clinician_a, attach_images=True)
    added_later = LesionImageFactory(
        lesion=shared_lesion, uploaded_by=people.clinician_a, captured_at=AFTER_TAKEN + timedelta(days=30)
    )
    token = share_token(share)

    page = client.get(f"/s/{token}/").content.decode()
    assert f"/images/{before.pk}/" in page and f"/images/{after.pk}/" in page
    assert f"/images/{added_later.pk}/" not in page and "2026-10-14" not in page
    assert client.get(f"/s/{token}/images/{after.pk}/").status_code == 200
    assert client.get(f"/s/{token}/images/{added_later.pk}/").status_code == 404
    report = client.get(f"/s/{token}/report.pdf")
    pdf_text = "".join(sheet.extract_text() for sheet in PdfReader(io.BytesIO(report.content)).pages)
    assert "2026-09-14" in pdf_text and "2026-10-14" not in pdf_text
    send_share_email_task.apply(args=[share.pk])
    [message] = smtp_inbox.messages
    attached = {part.get_filename() for part in message.iter_attachments()}
    sent = (before, after)
    assert attached == {f"lesion-{shared_lesion.pk}-{photo.captured_at:%Y-%m-%d}-{photo.pk}.jpg" for photo in sent}
    # The photo the share does not hold answered 404, and the log says so.
    assert list(share.openings.order_by("id").values_list("resource", "outcome")) == [
        ("page", "served"),
        ("image", "served"),
        ("image", "not_found"),
        ("report", "served"),
    ]
    assert AuditEvent.objects.get(action="open_share", path=f"/s/[token]/images/{added_later.pk}/").status_code == 404
    listed = api_client(people.clinician_a).get(f"/api/shares/{share.pk}/").json()
    assert sorted(listed["images"]) == [before.pk, after.pk]


def test_a_patient_sees_when_their_link_was_opened_but_not_from_where(people, shared_lesion, client):
    share = share_lesion(lesion=shared_lesion, shared_by=people.patient_a_user)
    client.get(f"/s/{share_token(share)}/", REMOTE_ADDR="203.0.113.9", HTTP_USER_AGENT=BROWSER)
    opened_at = share.openings.get().opened_at

    [visit] = api_client(people.patient_a_user).get(f"/api/shares/{share.pk}/").json()["openings"]
    assert visit == {"opened_at": visit["opened_at"], "resource": "page", "outcome": "served"}
    assert timezone.datetime.fromisoformat(visit["opened_at"]) == opened_at
    client.force_login(people.patient_a_user)
    listing = client.get("/shares/").content.decode()
    assert f"{timezone.localtime(opened_at):%Y-%m-%d %H:%M}: Page, served" in listing
    assert "203.0.113.9" not in listing and "TestBrowser" not in listing

    [seen_by_clinic] = api_client(people.clinician_a).get(f"/api/shares/{share.pk}/").json()["openings"]
    assert (seen_by_clinic["ip_address"], seen_by_clinic["user_agent"]) == ("203.0.113.9", BROWSER)


def test_email_subjects_are_plain_text_not_html(people, shared_lesion, smtp_inbox):
    Clinic.objects.filter(pk=people.clinic_a.pk).update(name="Siobhán O'Brien & Partners")
    created = share_through_api(people)
    send_share_email_task.apply(args=[created["id"]])
    [message] = smtp_inbox.messages
    assert message["Subject"].strip() == "SkinTrack: a skin lesion shared with you by Siobhán O'Brien & Partners"
