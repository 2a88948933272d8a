"""The clinic's pages, each proved both ways with the People cast: who may see it, who may change it, and
what it shows."""

import io

import numpy as np
import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from PIL import Image

from audit.models import AuditEvent
from lesions import pipeline
from lesions.models import Lesion, LesionImage, Patient
from lesions.services import review_photo
from lesions.triage import attention_candidates, lesions_needing_attention
from tests.factories import (
    ClinicFactory,
    LesionFactory,
    LesionImageFactory,
    MembershipFactory,
    PatientFactory,
    PredictionFactory,
)
from tests.images import encode, lesion_photo, real_lesion_photo, upload
from tests.pages_support import days_ago, measured_compare_page

pytestmark = pytest.mark.django_db


def client_for(user=None) -> Client:
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


@pytest.fixture
def photographed(people):
    """Lesion A with an older and a newer photo, both classified."""
    older = LesionImageFactory(lesion=people.lesion_a, uploaded_by=people.clinician_a, captured_at=days_ago(60))
    newer = LesionImageFactory(
        lesion=people.lesion_a, uploaded_by=people.clinician_a, lesion_scale=1.2, captured_at=days_ago(1)
    )
    PredictionFactory(image=older, most_likely="nv", probability=0.8)
    PredictionFactory(image=newer, most_likely="mel", probability=0.6)
    return older, newer


def page_urls(people, image: LesionImage) -> list[str]:
    return [
        reverse("patient", args=[people.patient_a.pk]),
        reverse("lesion", args=[people.lesion_a.pk]),
        reverse("lesion-chart", args=[people.lesion_a.pk]),
        reverse("lesion-compare", args=[people.lesion_a.pk]),
        reverse("photo-card", args=[image.pk]),
        reverse("photo-outline", args=[image.pk]),
    ]


def test_anonymous_visitors_are_sent_to_sign_in(people, photographed):
    for url in [reverse("home"), reverse("patient-new"), *page_urls(people, photographed[0])]:
        response = client_for().get(url)
        assert response.status_code == 302, url
        assert response.url.startswith(reverse("login")), url


def test_another_clinic_gets_404_for_every_page_and_action(people, photographed):
    client = client_for(people.clinician_b)
    for url in page_urls(people, photographed[0]):
        assert client.get(url).status_code == 404, url
    assert client.post(reverse("patient", args=[people.patient_a.pk]), {"body_site": "back"}).status_code == 404
    photo_post = client.post(reverse("photo-upload", args=[people.lesion_a.pk]), {"image": upload()})
    assert photo_post.status_code == 404
    assert Lesion.objects.filter(patient=people.patient_a).count() == 1
    assert LesionImage.objects.count() == 2


def test_a_patient_reads_their_own_record_and_adds_home_photos_only_to_it(people, photographed):
    for image in photographed:  # reviewed: the photo's outline, part of its result, is then the patient's to see
        review_photo(image=image, reviewed_by=people.clinician_a, disposition="routine")
    client = client_for(people.patient_a_user)
    assert client.get(reverse("home")).url == reverse("patient", args=[people.patient_a.pk])
    for url in page_urls(people, photographed[0]):
        assert client.get(url).status_code == 200, url
    patient_page = client.get(reverse("patient", args=[people.patient_a.pk])).content.decode()
    assert 'id="lesion-form"' not in patient_page and "Invite to the patient portal" not in patient_page
    lesion_page = client.get(reverse("lesion", args=[people.lesion_a.pk])).content.decode()
    assert 'id="upload-form"' in lesion_page and "Share with a colleague" not in lesion_page
    assert client.get(reverse("patient", args=[people.patient_b.pk])).status_code == 404
    assert client.get(reverse("lesion", args=[people.lesion_b.pk])).status_code == 404
    assert client.post(reverse("patient", args=[people.patient_a.pk]), {"body_site": "back"}).status_code == 403
    assert client.get(reverse("patient-new")).status_code == 403
    other_lesion = client.post(reverse("photo-upload", args=[people.lesion_b.pk]), {"image": upload()})
    assert other_lesion.status_code == 404
    photo = {"image": upload(), "modality": "clinical"}
    own_lesion = client.post(reverse("photo-upload", args=[people.lesion_a.pk]), photo)
    assert own_lesion.status_code == 302
    home_photo = LesionImage.objects.get(lesion=people.lesion_a, taken_by_patient=True)
    page = client.get(reverse("lesion", args=[people.lesion_a.pk])).content.decode()
    assert "taken by the patient at home" in page
    assert LesionImage.objects.exclude(pk=home_photo.pk).count() == 2


def test_dashboard_lists_the_clinics_patients_and_finds_them(people):
    other = PatientFactory(clinic=people.clinic_b, last_name="Elsewhere")
    PatientFactory(clinic=people.clinic_a, first_name="Zelda", last_name="Quartz", medical_record_number="Q-777")
    page = client_for(people.clinician_a).get(reverse("home")).content.decode()
    assert people.patient_a.last_name in page and "Quartz" in page
    assert other.last_name not in page
    found = client_for(people.clinician_a).get(reverse("home"), {"q": "q-77"}).content.decode()
    assert "Quartz" in found and people.patient_a.medical_record_number not in found
    elsewhere = client_for(people.clinician_a).get(reverse("home"), {"q": "Elsewhere"})
    assert list(elsewhere.context["page"].object_list) == []
    assert "No patient matches" in elsewhere.content.decode()
    assert other.last_name in client_for(people.clinician_b).get(reverse("home")).content.decode()


def test_dashboard_puts_changed_lesions_first_then_high_scores(people, photographed):
    worrying = LesionFactory(patient=people.patient_b, label="Worrying one")
    PredictionFactory(
        image=LesionImageFactory(lesion=worrying, uploaded_by=people.clinician_a), most_likely="mel", probability=0.9
    )
    calm = LesionFactory(patient=people.patient_b, label="Calm one")
    PredictionFactory(
        image=LesionImageFactory(lesion=calm, uploaded_by=people.clinician_a), most_likely="nv", probability=0.95
    )

    def attention_section() -> str:
        page = client_for(people.clinician_a).get(reverse("home")).content.decode()
        return page.split('id="attention-title"')[1].split("</section>")[0]

    before_measuring = attention_section()
    assert "Worrying one" in before_measuring and "Calm one" not in before_measuring
    assert "model lite0-2026.11-test" in before_measuring and "not a diagnosis" in before_measuring
    # Opening the comparison has the worker measure the change; the dashboard then flags the lesion first.
    measured_compare_page(client_for(people.clinician_a), people.lesion_a)
    section = attention_section()
    assert "Changed" in section
    assert section.index(str(people.lesion_a)) < section.index("Worrying one")
    assert "Worrying one" not in client_for(people.clinician_b).get(reverse("home")).content.decode()


def test_dashboard_lists_lesions_due_a_follow_up_photo(people):
    due = LesionFactory(patient=people.patient_a, label="Due one", follow_up_interval=3, follow_up_unit="months")
    LesionImageFactory(lesion=due, uploaded_by=people.clinician_a, captured_at=days_ago(120))
    not_yet = LesionFactory(patient=people.patient_a, label="Not yet", follow_up_interval=6, follow_up_unit="months")
    LesionImageFactory(lesion=not_yet, uploaded_by=people.clinician_a, captured_at=days_ago(120))
    page = client_for(people.clinician_a).get(reverse("home")).content.decode()
    section = page.split('id="attention-title"')[1].split("</section>")[0]
    assert "Due one" in section and "Follow-up photo overdue" in section
    assert "Not yet" not in section
    lesion_page = client_for(people.clinician_a).get(reverse("lesion", args=[not_yet.pk])).content.decode()
    assert "Follow-up photo every 6 months, next due" in lesion_page


def test_the_database_narrows_the_dashboard_to_lesions_that_may_need_attention(people):
    def photographed_pair(label: str, *, changed: bool | None, verdict: str | None = None) -> Lesion:
        lesion = LesionFactory(patient=people.patient_a, label=label)
        before = LesionImageFactory(lesion=lesion, uploaded_by=people.clinician_a, captured_at=days_ago(30))
        after = LesionImageFactory(lesion=lesion, uploaded_by=people.clinician_a)
        for image in (before, after):
            PredictionFactory(image=image, most_likely="nv", probability=0.95)
        if changed is not None:
            stored = {"before_id": before.pk, "changed": changed}
            LesionImage.objects.filter(pk=after.pk).update(
                change_from_previous={**stored, "verdict": verdict} if verdict else stored
            )
        return lesion

    calm = photographed_pair("Measured, unchanged", changed=False)
    flagged = photographed_pair("Measured, changed", changed=True)
    unsure = photographed_pair("Measured, cannot tell", changed=False, verdict="cannot_tell")
    unmeasured = photographed_pair("Not measured yet", changed=None)
    single = LesionFactory(patient=people.patient_a, label="One photo")
    PredictionFactory(
        image=LesionImageFactory(lesion=single, uploaded_by=people.clinician_a), most_likely="nv", probability=0.95
    )
    planned = LesionFactory(patient=people.patient_a, label="Planned", follow_up_interval=1, follow_up_unit="years")

    candidates = set(attention_candidates(people.clinician_a))
    assert {flagged, unsure, unmeasured, planned} <= candidates
    assert calm not in candidates and single not in candidates
    assert not set(attention_candidates(people.clinician_b)) & {flagged, unsure, unmeasured, planned}
    needing = lesions_needing_attention(people.clinician_a)
    assert [lesion.label for lesion in needing] == ["Measured, changed", "Measured, cannot tell"]
    assert [(lesion.changed, lesion.cannot_tell) for lesion in needing] == [(True, False), (False, True)]
    section = client_for(people.clinician_a).get(reverse("home")).content.decode().split('id="attention-title"')[1]
    unsure_row = section.split("Measured, cannot tell")[1].split("</li>")[0]
    assert "Cannot tell: compare by eye" in unsure_row and "badge-change" not in unsure_row


def test_dashboard_and_timeline_use_a_bounded_number_of_queries(people, django_assert_max_num_queries):
    def grow(count: int):
        for index in range(count):
            lesion = LesionFactory(patient=PatientFactory(clinic=people.clinic_a))
            for days in (30, 2):
                PredictionFactory(
                    image=LesionImageFactory(
                        lesion=lesion, uploaded_by=people.clinician_a, captured_at=days_ago(days + index)
                    )
                )
            PredictionFactory(
                image=LesionImageFactory(
                    lesion=people.lesion_a, uploaded_by=people.clinician_a, captured_at=days_ago(index)
                )
            )

    client = client_for(people.clinician_a)
    grow(2)
    # What matters is that the count does not grow with the data (below); the audit of the patients shown (an event
    # and its patients, in a savepoint), the session's last activity and the review queue's counts cost a few
    # queries of their own.
    with django_assert_max_num_queries(24) as few:
        assert client.get(reverse("home")).status_code == 200
    with django_assert_max_num_queries(18) as few_timeline:
        assert client.get(reverse("lesion", args=[people.lesion_a.pk])).status_code == 200
    grow(4)
    with django_assert_max_num_queries(len(few.captured_queries)):
        client.get(reverse("home"))
    with django_assert_max_num_queries(len(few_timeline.captured_queries)):
        client.get(reverse("lesion", args=[people.lesion_a.pk]))


def test_a_clinician_registers_a_patient(people):
    client = client_for(people.clinician_a)
    fields = {"medical_record_number": "NEW-1", "first_name": "Nora", "last_name": "Newman", "sex": "female"}
    response = client.post(reverse("patient-new"), fields)
    patient = Patient.objects.get(medical_record_number="NEW-1")
    assert response.url == reverse("patient", args=[patient.pk])
    assert patient.clinic == people.clinic_a
    duplicate = client.post(reverse("patient-new"), fields)
    assert duplicate.status_code == 400
    assert "already has this record number" in duplicate.content.decode()
    assert Patient.objects.filter(medical_record_number="NEW-1").count() == 1


def test_a_member_of_two_clinics_chooses_one_of_their_own(people):
    MembershipFactory(user=people.clinician_a, clinic=people.clinic_b)
    outsider = ClinicFactory(name="Clinic C")
    client = client_for(people.clinician_a)
    fields = {"medical_record_number": "TWO-1", "first_name": "Tara", "last_name": "Two", "sex": "unknown"}
    assert client.post(reverse("patient-new"), fields).status_code == 400
    assert client.post(reverse("patient-new"), {**fields, "clinic": outsider.pk}).status_code == 400
    client.post(reverse("patient-new"), {**fields, "clinic": people.clinic_b.pk})
    assert Patient.objects.get(medical_record_number="TWO-1").clinic == people.clinic_b


def test_a_clinician_adds_a_lesion_placed_on_the_diagram(people):
    client = client_for(people.clinician_a)
    url = reverse("patient", args=[people.patient_a.pk])
    lesion_fields = {"body_site": "chest", "follow_up_unit": "months"}
    response = client.post(url, {**lesion_fields, "label": "Left chest", "diagram_x": "0.31", "diagram_y": "0.28"})
    lesion = Lesion.objects.get(label="Left chest")
    assert response.url == reverse("lesion", args=[lesion.pk])
    assert (lesion.patient, lesion.diagram_x, lesion.diagram_y) == (people.patient_a, 0.31, 0.28)
    page = client.get(url).content.decode()
    assert 'id="body-diagram"' in page and "Left chest" in page
    assert 'cx="62" cy="70"' in page  # the pin sits at 0.31 x 200, 0.28 x 250 in the diagram's coordinates
    refused = client.post(url, {**lesion_fields, "label": "Off the map", "diagram_x": "1.5", "diagram_y": "0.2"})
    assert refused.status_code == 400
    assert not Lesion.objects.filter(label="Off the map").exists()


def test_the_clinic_edits_a_lesions_follow_up_plan_and_nobody_else_can(people):
    url = reverse("lesion-edit", args=[people.lesion_a.pk])
    plan = {"body_site": "neck", "label": "Neck, B", "follow_up_interval": "6", "follow_up_unit": "months"}
    assert client_for(people.patient_a_user).post(url, plan).status_code == 403
    assert client_for(people.clinician_b).post(url, plan).status_code == 404
    refused = client_for(people.clinician_a).post(url, {**plan, "follow_up_interval": "0"})
    assert refused.status_code == 400 and 'aria-invalid="true"' in refused.content.decode()
    people.lesion_a.refresh_from_db()
    assert people.lesion_a.follow_up_interval is None
    assert client_for(people.clinician_a).post(url, plan).url == reverse("lesion", args=[people.lesion_a.pk])
    people.lesion_a.refresh_from_db()
    lesion = people.lesion_a
    assert (lesion.label, lesion.body_site, lesion.follow_up_interval) == ("Neck, B", "neck", 6)


def test_lesion_page_shows_each_result_as_decision_support_with_its_model(people, photographed):
    page = client_for(people.clinician_a).get(reverse("lesion", args=[people.lesion_a.pk])).content.decode()
    assert "not a diagnosis" in page
    assert "Most likely <strong>melanoma</strong> (60%), then" in page
    assert "Most likely <strong>melanocytic nevus</strong> (80%)" in page
    assert "model EfficientNet-Lite0 lite0-2026.11-test" in page
    assert page.count('class="bar-label"') == 14
    assert "histopathology (biopsy) 60%" in page
    assert page.index("melanoma</strong> (60%)") < page.index("melanocytic nevus</strong> (80%)")  # newest first
    assert 'class="line line-score"' in page
    assert reverse("lesion-compare", args=[people.lesion_a.pk]) in page
    assert reverse("api:image-thumbnail", args=[photographed[1].pk]) in page


def test_a_photo_waiting_for_the_worker_polls_until_its_result_arrives(people):
    image = LesionImageFactory(lesion=people.lesion_a, uploaded_by=people.clinician_a)
    client = client_for(people.clinician_a)
    card_views = AuditEvent.objects.filter(path=reverse("photo-card", args=[image.pk]))
    for _ in range(3):
        waiting = client.get(reverse("photo-card", args=[image.pk]))
        assert 'hx-trigger="every 2s"' in waiting.content.decode()
        assert "Waiting for analysis" in waiting.content.decode()
        assert "HX-Trigger" not in waiting.headers
    assert not card_views.exists()  # polls that show nothing new leave no audit rows
    PredictionFactory(image=image)
    classified = client.get(reverse("photo-card", args=[image.pk])).content.decode()
    assert "Most likely" in classified and "every 2s" in classified  # its outline is still to come
    pipeline.analyse_image(image_pk=image.pk)
    finished = client.get(reverse("photo-card", args=[image.pk]))
    assert "every 2s" not in finished.content.decode()
    assert "thumb-outline" in finished.content.decode()
    assert "Most likely" in finished.content.decode()
    assert finished.headers["HX-Trigger"] == "photo-finished"
    [shown] = card_views
    assert (shown.action, shown.actor, shown.patient_id) == ("view", people.clinician_a, people.patient_a.pk)


def test_upload_through_htmx_answers_with_a_fresh_form_and_the_new_photo(people):
    client = client_for(people.clinician_a)
    url = reverse("photo-upload", args=[people.lesion_a.pk])
    taken = "2026-03-04T10:30"
    fields = {"image": upload(), "modality": "clinical", "captured_at": taken}
    response = client.post(url, fields, HTTP_HX_REQUEST="true")
    image = LesionImage.objects.get()
    assert (image.modality, image.uploaded_by) == ("clinical", people.clinician_a)
    assert timezone.localtime(image.captured_at).strftime("%Y-%m-%dT%H:%M") == taken
    body = response.content.decode()
    assert 'hx-swap-oob="afterbegin:#timeline"' in body and f'id="photo-{image.pk}"' in body
    assert 'id="upload-form"' in body


def test_a_refused_upload_shows_the_reason_beside_the_field_and_stores_nothing(people, isolated_media):
    client = client_for(people.clinician_a)
    url = reverse("photo-upload", args=[people.lesion_a.pk])
    tiny = encode(lesion_photo((40, 30)), "PNG")
    fields = {"image": upload("tiny.png", content=tiny), "modality": "dermoscopic"}
    response = client.post(url, fields, HTTP_HX_REQUEST="true")
    body = response.content.decode()
    assert 'id="id_image_errors"' in body
    assert "The photo is 40x30 pixels; it must be at least 64x64." in body
    assert LesionImage.objects.count() == 0
    assert not any(path.is_file() for path in isolated_media.rglob("*"))
    without_htmx = client.post(url, {"image": upload("notes.jpg", content=b"not an image"), "modality": "dermoscopic"})
    assert without_htmx.status_code == 400
    assert "This file is not an image we can read" in without_htmx.content.decode()


def test_upload_without_javascript_returns_to_the_lesion_page(people):
    response = client_for(people.clinician_a).post(
        reverse("photo-upload", args=[people.lesion_a.pk]), {"image": upload(), "modality": "dermoscopic"}
    )
    assert response.status_code == 302 and response.url == reverse("lesion", args=[people.lesion_a.pk])
    assert LesionImage.objects.filter(lesion=people.lesion_a).count() == 1


def test_comparison_measures_an_enlarged_lesion_as_changed(people, photographed):
    response = measured_compare_page(client_for(people.clinician_a), people.lesion_a)
    change = response.context["change"]
    assert response.context["before"] == photographed[0] and response.context["after"] == photographed[1]
    assert change["area_ratio"] == pytest.approx(1.44, abs=0.1)
    assert change["changed"] and change["verdict"] == "changed"
    page = response.content.decode()
    assert "<strong>Changed.</strong> Area grew" in page
    assert "A lesion is flagged as changed when" in page
    # The flag's measured track record, from the figures the segmentation evaluation wrote.
    assert "although the lesion had not changed" in page and "enlarged by 20%" in page and "cannot tell" in page
    assert "alignment (" in page
    assert 'type="range" name="opacity"' in page and 'type="range" name="divider"' in page
    assert "matrix(" in page
    assert '<th scope="row">melanoma</th><td>3%</td><td>60%</td><td class="up">+57 pts' in page
    assert "not a diagnosis" in page and "model lite0-2026.11-test" in page


def test_a_larger_later_photo_is_compared_at_a_working_size_and_aligned_at_full_size(people):
    first = LesionImageFactory(lesion=people.lesion_a, uploaded_by=people.clinician_a, captured_at=days_ago(10))
    closer = real_lesion_photo(lesion_scale=1.2).resize((1500, 1125), Image.Resampling.BICUBIC)
    later = LesionImageFactory(
        lesion=people.lesion_a,
        uploaded_by=people.clinician_a,
        content=encode(closer, "JPEG", quality=92),
        captured_at=days_ago(5),
    )
    response = measured_compare_page(client_for(people.clinician_a), people.lesion_a)
    change = response.context["change"]
    assert change["area_ratio"] == pytest.approx(1.44, abs=0.1)  # the 5x larger photo is not read as growth
    viewer = np.array(change["viewer_matrix"])
    assert np.hypot(viewer[0, 0], viewer[1, 0]) == pytest.approx(first.width / later.width, rel=0.03)
    assert change["after"]["stored_diameter_pixels"] == pytest.approx(
        change["before"]["stored_diameter_pixels"] * 1.2 * later.width / first.width, rel=0.08
    )
    outline = client_for(people.clinician_a).get(reverse("photo-outline", args=[later.pk]))
    assert Image.open(io.BytesIO(outline.content)).size == (1500, 1125)


def test_the_same_photo_twice_reads_no_change(people):
    first = LesionImageFactory(lesion=people.lesion_a, uploaded_by=people.clinician_a, captured_at=days_ago(10))
    second = LesionImageFactory(lesion=people.lesion_a, uploaded_by=people.clinician_a, captured_at=days_ago(5))
    response = measured_compare_page(
        client_for(people.clinician_a), people.lesion_a, {"before": first.pk, "after": second.pk}
    )
    assert response.context["change"]["area_ratio"] == pytest.approx(1.0, abs=0.02)
    assert response.context["change"]["verdict"] == "unchanged"
    assert "<strong>Unchanged.</strong>" in response.content.decode()
    assert "Both photos need a classification result" in response.content.decode()


def test_comparison_choices_are_the_lesions_own_photos(people, photographed):
    client = client_for(people.clinician_a)
    url = reverse("lesion-compare", args=[people.lesion_a.pk])
    other_lesion_photo = LesionImageFactory(lesion=people.lesion_b, uploaded_by=people.clinician_a)
    assert client.get(url, {"before": photographed[0].pk, "after": other_lesion_photo.pk}).status_code == 400
    same = client.get(url, {"before": photographed[0].pk, "after": photographed[0].pk})
    assert same.status_code == 400 and "Choose two different photos" in same.content.decode()
    swapped = client.get(url, {"before": photographed[1].pk, "after": photographed[0].pk})
    assert swapped.context["before"] == photographed[0]  # earlier is always the reference


def test_comparison_needs_two_photos(people):
    LesionImageFactory(lesion=people.lesion_a, uploaded_by=people.clinician_a)
    page = client_for(people.clinician_a).get(reverse("lesion-compare", args=[people.lesion_a.pk])).content.decode()
    assert "needs at least two photos" in page


def test_outline_is_a_transparent_png_the_size_of_the_photo(people, photographed):
    response = client_for(people.clinician_a).get(reverse("photo-outline", args=[photographed[0].pk]))
    outline = Image.open(io.BytesIO(response.content))
    assert response["Content-Type"] == "image/png"
    assert outline.size == (photographed[0].width, photographed[0].height) and outline.mode == "RGBA"
    outlined = np.count_nonzero(np.asarray(outline.getchannel("A")))
    assert 0 < outlined < outline.width * outline.height / 4


def test_the_workers_outline_is_drawn_over_the_timeline_thumbnail(people, photographed):
    older, _ = photographed
    url = reverse("photo-card", args=[older.pk])
    assert "thumb-outline" not in client_for(people.clinician_a).get(url).content.decode()
    pipeline.outline_lesion(image=older, photo=pipeline.read_photo(older))
    card = client_for(people.clinician_a).get(url).content.decode()
    assert f'class="thumb-outline" src="{reverse("photo-outline", args=[older.pk])}"' in card
    stored = pipeline.stored_mask(LesionImage.objects.get(pk=older.pk))
    assert stored is not None and stored.shape == (older.height, older.width) and stored.any()


def test_chart_plots_score_and_area_from_the_stored_measurements(people, photographed):
    older, newer = photographed
    LesionImage.objects.filter(pk=older.pk).update(mask="lesion-masks/older.png", measurements={"area_pixels": 500})
    LesionImage.objects.filter(pk=newer.pk).update(
        mask="lesion-masks/newer.png",
        measurements={"area_pixels": 800},
        change_from_previous={"before_id": older.pk, "verdict": "changed", "changed": True, "area_ratio": 1.6},
    )
    page = client_for(people.clinician_a).get(reverse("lesion-chart", args=[people.lesion_a.pk])).content.decode()
    assert 'class="line line-area"' in page and 'class="line line-score"' in page
    assert "area ×1.60 of the first photo's" in page and "malignancy score 73%" in page


def test_learn_page_is_public_and_says_it_is_not_a_diagnosis():
    page = client_for().get(reverse("learn")).content.decode()
    assert "decision support, not a diagnosis" in page
    for words in ("Melanoma", "Basal cell carcinoma", "Dermatofibroma", "Vascular lesion", "ABCDE"):
        assert words in page


def test_pages_leave_an_audit_event_naming_the_record_they_showed(people, photographed):
    client = client_for(people.clinician_a)
    client.get(reverse("lesion", args=[people.lesion_a.pk]))
    client.get(reverse("patient", args=[people.patient_a.pk]))
    client_for(people.clinician_b).get(reverse("lesion", args=[people.lesion_a.pk]))
    events = list(AuditEvent.objects.filter(actor=people.clinician_a).order_by("id"))
    assert [(event.target, event.patient_id, event.action) for event in events[-2:]] == [
        (f"lesion {people.lesion_a.pk}", people.patient_a.pk, "view"),
        (f"patient {people.patient_a.pk}", people.patient_a.pk, "view"),
    ]
    assert not AuditEvent.objects.filter(actor=people.clinician_b, patient_id=people.patient_a.pk).exists()


def test_patient_page_lists_each_lesions_latest_result_with_its_model(people, photographed):
    page = client_for(people.clinician_a).get(reverse("patient", args=[people.patient_a.pk])).content.decode()
    assert "most likely melanoma, malignancy score 73%" in page
    assert "(model lite0-2026.11-test)" in page and "not a diagnosis" in page
