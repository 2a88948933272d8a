"""Setting a photo's scale in a real browser: a clinician clicks the two ends of a ruler's stretch on the photo
(static/js/calibrate.js, no inline script) and types its length; the photo's sizes then read in millimetres."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from playwright.sync_api import expect

from lesions.models import LesionImage
from lesions.services import add_lesion_image
from tests.browser.test_clinician_workflow import shoot
from tests.browser.test_review_loop import signed_in_page
from tests.factories import LesionFactory, MembershipFactory, PatientFactory
from tests.images import jpeg_bytes

pytestmark = [pytest.mark.browser, pytest.mark.services, pytest.mark.django_db(transaction=True)]


def test_a_line_drawn_over_a_ruler_sets_the_photos_scale(chromium, live_server, screenshots):
    clinician = MembershipFactory().user
    lesion = LesionFactory(patient=PatientFactory(clinic=clinician.memberships.get().clinic))
    photo = add_lesion_image(
        lesion=lesion,
        upload=SimpleUploadedFile("ruler.jpg", jpeg_bytes((400, 300)), content_type="image/jpeg"),
        uploaded_by=clinician,
        captured_at="2026-03-01T10:00:00Z",
    )
    context, page, failed = signed_in_page(chromium, live_server, clinician)
    page.goto(f"{live_server.url}/photos/{photo.pk}/edit/")
    shown = page.locator(".calibrate img")
    box = shown.bounding_box()
    # A quarter and three quarters of the way across: half the photo's 400 pixels, 200 of them.
    shown.click(position={"x": box["width"] * 0.25, "y": box["height"] / 2})
    expect(page.get_by_text("One end set: click the other end.")).to_be_visible()
    shown.click(position={"x": box["width"] * 0.75, "y": box["height"] / 2})
    expect(page.get_by_text("Line drawn: 200 pixels of the photo.")).to_be_visible()
    expect(page.locator(".calibrate-line")).to_have_attribute("visibility", "visible")
    page.get_by_label("Length of the line (mm)").fill("10")
    shoot(page, screenshots, "photo-scale")
    page.get_by_role("button", name="Save the scale").click()
    expect(page.get_by_text("The photo's scale was saved.")).to_be_visible()
    expect(page.get_by_text("0.0500 mm per pixel (measured on the photo)")).to_be_visible()
    assert LesionImage.objects.get(pk=photo.pk).mm_per_pixel == pytest.approx(0.05, rel=0.02)
    assert failed == []
    context.close()
