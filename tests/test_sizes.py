"""Sizes that mean something (issue 18): the lesion's area relative to its first photo, corrected for zoom; sizes
in millimetres from a line drawn over a ruler or the clinic's dermatoscope; coloured outlines on the compare page."""

import pytest
from django.test import Client
from django.urls import reverse

from audit.models import AuditEvent
from lesions import presenters
from lesions.charts import Sample, timeline_chart
from lesions.models import LesionImage
from lesions.summary import summarise_lesion
from lesions.views import lesion_images
from tests.conftest import api_client
from tests.factories import LesionImageFactory, PredictionFactory
from tests.pages_support import days_ago
from tests.sharing_support import pdf_text

pytestmark = pytest.mark.django_db

PHOTO_WIDTH = 300  # tests.pages_support's photos are 300x225


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def stored_change(before: LesionImage, *, area_ratio: float, zoom: float, verdict: str = "unchanged") -> dict:
    """What the worker stores on the later photo (lesions.pipeline.record_change_from_previous), trimmed to what
    the sizes and the compare page read."""
    return {
        "before_id": before.pk,
        "before": {"area_pixels": 1000, "area_fraction": 0.05, "longest_diameter_pixels": 40.0},
        "after": {"area_pixels": round(1000 * area_ratio / zoom**2), "longest_diameter_pixels": 40.0 / zoom},
        "registration": {
            "transform": {"scale": zoom, "rotation_degrees": 0.0},
            "quality": 0.1 if verdict == "cannot_tell" else 0.9,
            "quality_text": "Poor alignment (0.10)." if verdict == "cannot_tell" else "Good alignment (0.90).",
        },
        "viewer_matrix": [[zoom, 0, 0], [0, zoom, 0], [0, 0, 1]],
        "area_ratio": area_ratio,
        "diameter_ratio": area_ratio**0.5,
        "verdict": verdict,
        "changed": verdict == "changed",
        "reasons": ["Area grew."] if verdict == "changed" else [],
        "cannot_tell_reasons": ["Poor alignment (0.10)."] if verdict == "cannot_tell" else [],
    }


def outlined(image: LesionImage, *, area_pixels: int, change: dict | None = None) -> LesionImage:
    """The photo as the worker leaves it: outlined, measured (in its own pixels) and, after the first, compared."""
    measurements = {
        "area_pixels": area_pixels,
        "area_fraction": area_pixels / (300 * 225),
        "longest_diameter_pixels": 40.0,
    }
    LesionImage.objects.filter(pk=image.pk).update(
        mask=f"lesion-masks/{image.pk}.png", measurements=measurements, change_from_previous=change
    )
    image.refresh_from_db()
    return image


@pytest.fixture
def three_photos(people):
    """Photos of one lesion that did not grow, then grew by 10%: the second taken twice as close (zoom 0.5
    maps its pixels onto the first's), so its share of the photo quadruples."""
    first, second, third = (
        LesionImageFactory(lesion=people.lesion_a, uploaded_by=people.clinician_a, captured_at=days_ago(days))
        for days in (90, 60, 30)
    )
    for photo in (first, second, third):
        PredictionFactory(image=photo)
    first = outlined(first, area_pixels=1000)
    second = outlined(second, area_pixels=4000, change=stored_change(first, area_ratio=1.0, zoom=0.5))
    third = outlined(third, area_pixels=4400, change=stored_change(second, area_ratio=1.1, zoom=1.0))
    return first, second, third


def marked(people, user) -> list[LesionImage]:
    return lesion_images(people.lesion_a, user)


def test_a_photo_taken_closer_reads_the_same_area_relative_to_the_first_photo(people, three_photos):
    first, second, third = three_photos
    assert second.measurements["area_fraction"] == pytest.approx(4 * first.measurements["area_fraction"])
    relative = presenters.relative_areas(marked(people, people.clinician_a))
    assert relative == {first.pk: 1.0, second.pk: 1.0, third.pk: pytest.approx(1.1)}

    chart = client_for(people.clinician_a).get(reverse("lesion-chart", args=[people.lesion_a.pk])).content.decode()
    assert "Lesion area (relative to the first photo)" in chart
    assert "<td>×1.00</td>" in chart and "<td>×1.10</td>" in chart
    assert "of the photo" not in chart  # the share of each photo is gone


def test_a_pair_that_cannot_be_told_leaves_a_gap_not_a_wrong_value(people, three_photos):
    first, second, third = three_photos
    change = stored_change(first, area_ratio=1.0, zoom=0.5, verdict="cannot_tell")
    LesionImage.objects.filter(pk=second.pk).update(change_from_previous=change)
    relative = presenters.relative_areas(marked(people, people.clinician_a))
    assert relative == {first.pk: 1.0, second.pk: None, third.pk: None}
    chart = client_for(people.clinician_a).get(reverse("lesion-chart", args=[people.lesion_a.pk])).content.decode()
    assert chart.count("<td>—</td>") >= 2  # no value for the two photos after the break


def test_a_change_measured_against_another_photo_breaks_the_chain(people, three_photos):
    first, second, third = three_photos
    LesionImage.objects.filter(pk=third.pk).update(change_from_previous=stored_change(first, area_ratio=1.1, zoom=1))
    relative = presenters.relative_areas(marked(people, people.clinician_a))
    assert relative[third.pk] is None and relative[second.pk] == 1.0


def test_a_flagged_change_awaiting_acknowledgement_is_not_read_off_the_patients_chart(people, three_photos):
    first, second, _ = three_photos
    people.clinic_a.review_before_release = False
    people.clinic_a.save()
    grown = stored_change(first, area_ratio=1.5, zoom=0.5, verdict="changed")
    LesionImage.objects.filter(pk=second.pk).update(change_from_previous=grown)
    assert presenters.relative_areas(marked(people, people.clinician_a))[second.pk] == 1.5
    assert presenters.relative_areas(marked(people, people.patient_a_user))[second.pk] is None


def test_the_chart_line_breaks_at_a_gap():
    when = [days_ago(days) for days in (3, 2, 1)]
    chart = timeline_chart([Sample(when[0], 0.2, 1.0), Sample(when[1], 0.2, None), Sample(when[2], 0.3, 1.3)])
    assert chart.area.path.count("M") == 2 and "L" not in chart.area.path
    assert chart.area.axis_max == 1.5
    assert chart.malignancy.path.count("M") == 1


def test_the_clinics_dermatoscope_gives_dermoscopic_photos_sizes_in_millimetres(people, three_photos):
    first, *_ = three_photos
    assert first.size_in_mm is None
    response = client_for(people.admin_a).post(
        reverse("clinic-dermatoscope", args=[people.clinic_a.pk]), {"dermatoscope_field_of_view_mm": "15"}
    )
    assert response.status_code == 302
    people.clinic_a.refresh_from_db()
    assert people.clinic_a.dermatoscope_field_of_view_mm == 15
    event = AuditEvent.objects.filter(target=f"clinic {people.clinic_a.pk}").latest("pk")
    assert event.changes == {"dermatoscope_field_of_view_mm": [None, 15.0]}

    first = LesionImage.objects.select_related("lesion__patient__clinic").get(pk=first.pk)
    mm_per_pixel = 15 / PHOTO_WIDTH
    assert first.size_in_mm.area_mm2 == pytest.approx(1000 * mm_per_pixel**2)
    assert first.size_in_mm.diameter_mm == pytest.approx(40 * mm_per_pixel)
    card = client_for(people.clinician_a).get(reverse("photo-card", args=[first.pk])).content.decode()
    assert "Lesion size: 2.5 mm², longest diameter 2.0 mm" in card
    chart = client_for(people.clinician_a).get(reverse("lesion-chart", args=[people.lesion_a.pk])).content.decode()
    assert "<td>2.5</td>" in chart

    LesionImage.objects.filter(pk=first.pk).update(modality=LesionImage.Modality.CLINICAL)
    assert LesionImage.objects.get(pk=first.pk).size_in_mm is None  # a plain camera has no fixed field of view


@pytest.mark.parametrize(
    ("millimetres", "message"),
    [("0", "at least 1 mm"), ("250", "at most 100 mm"), ("many", "Enter a number")],
)
def test_a_field_of_view_out_of_range_is_refused_with_a_reason(people, millimetres, message):
    url = reverse("clinic-dermatoscope", args=[people.clinic_a.pk])
    response = client_for(people.admin_a).post(url, {"dermatoscope_field_of_view_mm": millimetres})
    assert response.status_code == 400 and message in response.content.decode()
    people.clinic_a.refresh_from_db()
    assert people.clinic_a.dermatoscope_field_of_view_mm is None


def test_a_clinician_reads_the_field_of_view_but_only_an_admin_sets_it(people):
    url = reverse("clinic-dermatoscope", args=[people.clinic_a.pk])
    page = client_for(people.clinician_a).get(url).content.decode()
    assert "Not set" in page and 'id="clinic-dermatoscope"' not in page
    assert client_for(people.clinician_a).post(url, {"dermatoscope_field_of_view_mm": "15"}).status_code == 403
    assert client_for(people.clinician_b).get(url).status_code == 404


def scale_post(user, image, **fields):
    line = {"start_x": 10, "start_y": 20, "end_x": 110, "end_y": 20, "length_mm": 10} | fields
    return client_for(user).post(reverse("photo-scale", args=[image.pk]), line)


def test_a_line_drawn_over_a_ruler_sets_the_photos_scale_and_is_audited(people, three_photos):
    first, *_ = three_photos
    response = scale_post(people.clinician_a, first)
    assert response.status_code == 302
    first.refresh_from_db()
    assert first.mm_per_pixel == pytest.approx(0.1)  # 10 mm over 100 pixels
    assert first.size_in_mm.area_mm2 == pytest.approx(10.0)
    event = AuditEvent.objects.filter(target=f"lesion image {first.pk}").latest("pk")
    assert event.changes == {"mm_per_pixel": [None, pytest.approx(0.1)]}
    page = client_for(people.clinician_a).get(reverse("photo-edit", args=[first.pk])).content.decode()
    assert "0.1000 mm per pixel (measured on the photo)" in page and "js/calibrate.js" in page

    client_for(people.clinician_a).post(reverse("photo-scale", args=[first.pk]), {"forget": "1"})
    first.refresh_from_db()
    assert first.mm_per_pixel is None


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"length_mm": 0}, "more than 0 and less than 200 mm"),
        ({"length_mm": 200}, "more than 0 and less than 200 mm"),
        ({"end_x": 15}, "The line is 5 pixels long"),
        ({"end_x": 5000}, "Both ends of the line must lie on the photo"),
        ({"start_x": ""}, "Draw the line first"),
        ({"length_mm": 0.000001}, "is finer than any photo"),
    ],
)
def test_a_bad_calibration_is_refused_with_a_reason_and_keeps_the_stored_scale(people, three_photos, fields, message):
    first, *_ = three_photos
    LesionImage.objects.filter(pk=first.pk).update(mm_per_pixel=0.05)
    response = scale_post(people.clinician_a, first, **fields)
    assert response.status_code == 400 and message in response.content.decode()
    first.refresh_from_db()
    assert first.mm_per_pixel == 0.05


def test_the_api_sets_and_forgets_a_photos_scale_for_the_clinic_only(people, three_photos):
    first, *_ = three_photos
    url = f"/api/images/{first.pk}/"
    answer = api_client(people.clinician_a).patch(url, {"mm_per_pixel": 0.02}, format="json")
    assert answer.status_code == 200 and answer.json()["mm_per_pixel"] == 0.02
    assert api_client(people.clinician_a).patch(url, {"mm_per_pixel": 0}, format="json").status_code == 400
    assert api_client(people.clinician_a).patch(url, {"mm_per_pixel": 50}, format="json").status_code == 400
    assert api_client(people.patient_a_user).patch(url, {"mm_per_pixel": 1}, format="json").status_code == 403
    first.refresh_from_db()
    assert first.mm_per_pixel == 0.02
    assert api_client(people.clinician_a).patch(url, {"mm_per_pixel": None}, format="json").status_code == 200
    first.refresh_from_db()
    assert first.mm_per_pixel is None


def test_the_compare_page_shows_zoom_corrected_ratios_millimetres_and_coloured_outlines(people, three_photos):
    first, second, _ = three_photos
    LesionImage.objects.filter(pk__in=[first.pk, second.pk]).update(mm_per_pixel=0.1)
    url = reverse("lesion-compare", args=[people.lesion_a.pk]) + f"?before={first.pk}&after={second.pk}"
    page = client_for(people.clinician_a).get(url).content.decode()
    area_row = page.split("relative to the earlier photo, corrected for zoom")[1].split("</tr>")[0]
    assert area_row.count("<td>×1.00</td>") == 3  # twice as close, same size: no growth read
    assert "<td>10.0</td><td>40.0</td>" in page  # mm²: 1000 and 4000 pixels at 0.1 mm each
    assert 'flood-color="#0072B2"' in page and 'flood-color="#E69F00"' in page
    assert page.count('class="outline outline-earlier"') == 2 and page.count('class="outline outline-later"') == 2
    assert "Earlier outline" in page and "Later outline" in page


def test_the_summary_for_the_pdf_and_shares_lists_sizes_with_units(people, three_photos):
    first, second, third = three_photos
    LesionImage.objects.filter(pk=third.pk).update(mm_per_pixel=0.1)
    summary = summarise_lesion(people.lesion_a, shown_to=people.clinician_a)
    assert [(row.relative_text, row.mm_text) for row in summary.sizes] == [
        ("x1.00", "scale unknown"),
        ("x1.00", "scale unknown"),
        ("x1.10", "44.0 mm², longest diameter 4.0 mm"),
    ]
    pdf = client_for(people.clinician_a).get(reverse("lesion-report", args=[people.lesion_a.pk]))
    text = pdf_text(pdf.content)
    assert "Lesion size over time" in text and "x1.10 44.0 mm², longest diameter 4.0 mm" in text
