"""The review loop in a real browser, at desktop and phone widths: a patient uploads a home photo and is told the
clinic will review it; the clinician reviews it from the queue with a note; the patient then sees the result and
the note; a change flagged later is acknowledged and leaves the queue; an excised lesion leaves the attention list
and is sent no reminder.

No worker runs here: the test classifies the photo itself with the function the worker's task calls."""

from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone
from playwright.sync_api import expect

from lesions import pipeline, registry
from lesions.models import Lesion, LesionImage, PhotoReview
from lesions.triage import lesions_needing_attention
from portal.reminders import due_lesions, send_due_reminders
from tests.browser.browser_support import choose_photo, phone_shots, shoot, signed_in_page
from tests.conftest import require_service
from tests.factories import (
    LesionFactory,
    LesionImageFactory,
    MembershipFactory,
    PatientFactory,
    PredictionFactory,
    UserFactory,
)
from tests.images import encode, real_lesion_photo
from tests.model_files import run_pipeline

pytestmark = [pytest.mark.browser, pytest.mark.services, pytest.mark.django_db(transaction=True)]

NOTE = "This looks like an ordinary mole. Send us a new photo in three months."


def test_a_home_photo_is_reviewed_before_the_patient_sees_it_and_every_flag_is_closed(
    chromium, live_server, screenshots
):
    require_service(
        registry.initial_model_path().is_file(),
        f"the served model {registry.initial_model_path()} is missing",
    )
    clinician = MembershipFactory(user=UserFactory(first_name="Ines", last_name="Moreau")).user
    clinic = clinician.memberships.get().clinic
    patient_user = UserFactory()
    patient = PatientFactory(clinic=clinic, user=patient_user, first_name="Rosa", last_name="Vidal")
    lesion = LesionFactory(patient=patient, label="Left shoulder", follow_up_interval=3, follow_up_unit="months")

    # The patient uploads a photo taken at home and is told the clinic will review it.
    patient_context, patient_page, patient_failures = signed_in_page(chromium, live_server, patient_user)
    lesion_url = f"{live_server.url}/lesions/{lesion.pk}/"
    patient_page.goto(lesion_url)
    choose_photo(patient_page, "home.jpg", encode(real_lesion_photo(lesion_scale=1.2), "JPEG", quality=95))
    patient_page.get_by_role("button", name="Upload photo").click()
    card = patient_page.locator("#timeline .photo-card").first
    expect(card).to_contain_text("Your clinic will review this photo")
    expect(patient_page.locator("#upload-form .message")).to_contain_text("Your clinic will review this photo")
    image = LesionImage.objects.get(lesion=lesion)
    assert image.taken_by_patient
    run_pipeline(image.pk)
    patient_page.reload()
    expect(card).to_contain_text("Your clinic will review this photo")
    expect(card).not_to_contain_text("Most likely")
    expect(card).not_to_contain_text("Malignancy score")
    shoot(patient_page, screenshots, "review-01-patient-awaiting-review")

    # The clinician sees the photo counted on the dashboard and reviews it from the queue with a note.
    clinic_context, clinic_page, clinic_failures = signed_in_page(chromium, live_server, clinician)
    expect(clinic_page.locator("#queue-counts")).to_contain_text("1 photo to review")
    clinic_page.locator("#queue-title").get_by_role("link", name="Review queue").click()
    item = clinic_page.locator(f"#queue-{image.pk}")
    expect(item).to_contain_text("New photo from the patient at home")
    expect(item).to_contain_text("Most likely")
    shoot(clinic_page, screenshots, "review-02-queue")
    item.get_by_label("Plan").select_option("sooner")
    item.get_by_label("Note to the patient").fill(NOTE)
    item.get_by_role("button", name="Save review and release to the patient").click()
    expect(clinic_page.locator("#queue-empty")).to_be_visible()
    review = PhotoReview.objects.get(image=image)
    assert (review.reviewed_by, review.disposition, review.note_to_patient) == (clinician, "sooner", NOTE)

    # The patient now sees the result and the note.
    patient_page.reload()
    expect(card).to_contain_text("Most likely")
    expect(card).to_contain_text(NOTE)
    expect(card).to_contain_text("Reviewed by Ines Moreau")
    expect(card).to_contain_text("Sooner follow-up")
    shoot(patient_page, screenshots, "review-03-patient-sees-result")

    # A change flagged after the review (the worker aligned the pair later) waits until it is acknowledged.
    earlier = LesionImageFactory(
        lesion=lesion, uploaded_by=clinician, captured_at=image.captured_at - timedelta(days=90), outlined=True
    )
    PredictionFactory(image=earlier)
    PhotoReview.objects.create(image=earlier, reviewed_by=clinician, reviewed_at=timezone.now(), disposition="routine")
    pipeline.measure_change(image_pk=earlier.pk)  # it came in out of order: the change into the home photo too
    clinic_page.reload()
    item = clinic_page.locator(f"#queue-{image.pk}")
    expect(item).to_contain_text("Flagged change")
    expect(item).to_contain_text("Area grew")
    shoot(clinic_page, screenshots, "review-04-flagged-change")
    assert [flagged.pk for flagged in lesions_needing_attention(clinician)] == [lesion.pk]
    item.get_by_role("button", name="Acknowledge the change").click()
    expect(clinic_page.locator("#queue-empty")).to_be_visible()

    # The lesion is excised: it leaves the attention list, and no reminder goes out when its follow-up falls due.
    clinic_page.goto(lesion_url)
    clinic_page.get_by_text("Change the status").click()
    clinic_page.get_by_label("New status").select_option("excised")
    clinic_page.get_by_label("Note (optional)", exact=True).fill("Excised on 2026-11-20; histology pending.")
    clinic_page.get_by_role("button", name="Save status").click()
    expect(clinic_page.locator("#lesion-status")).to_have_text("Excised")
    expect(clinic_page.locator(".status-history")).to_contain_text("histology pending")
    shoot(clinic_page, screenshots, "review-05-excised")
    clinic_page.goto(f"{live_server.url}/")
    expect(clinic_page.locator(".attention")).to_contain_text("No lesion needs attention now.")
    shoot(clinic_page, screenshots, "review-06-dashboard")
    assert Lesion.objects.get(pk=lesion.pk).status == "excised"
    later = timezone.now() + timedelta(days=200)
    assert due_lesions(Lesion.objects.all(), now=later) == []
    mail.outbox.clear()
    assert send_due_reminders(now=later) == 0 and mail.outbox == []

    phone_shots(chromium, patient_context.storage_state(), screenshots, {"review-03-patient-sees-result": lesion_url})
    clinic_pages = {"review-02-queue": f"{live_server.url}/review/", "review-05-excised": lesion_url}
    phone_shots(chromium, clinic_context.storage_state(), screenshots, clinic_pages)
    patient_context.close()
    clinic_context.close()
    assert patient_failures == [] and clinic_failures == []
