"""A clinician's day in a real browser: sign in, register a patient, place a lesion on the body diagram, upload
two photos (the second with the lesion enlarged), see each result arrive without a reload, compare the photos
and work the viewer's sliders and keys. Every page is photographed at desktop and phone widths.

No worker runs here: between steps the test classifies each photo and measures its change itself with the
functions the worker's tasks call, and the page's polling picks the result up."""

import io
import re

import pytest
from PIL import ExifTags, Image
from playwright.sync_api import expect

from lesions import registry
from lesions.models import Lesion, LesionImage, Patient
from tests.browser.browser_support import DESKTOP, choose_photo, phone_shots, shoot
from tests.conftest import require_service
from tests.factories import PASSWORD, MembershipFactory
from tests.images import encode, lesion_photo, real_lesion_photo
from tests.model_files import run_pipeline

pytestmark = [pytest.mark.browser, pytest.mark.services, pytest.mark.django_db(transaction=True)]

RESULT_TIMEOUT_MS = 15_000


def jpeg_with_date_taken(image: Image.Image, taken: str) -> bytes:
    exif = Image.Exif()
    exif.get_ifd(ExifTags.IFD.Exif)[ExifTags.Base.DateTimeOriginal] = taken
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=95, exif=exif.tobytes())
    return buffer.getvalue()


def classify_newest_photo(lesion: Lesion) -> LesionImage:
    image = lesion.images.latest("id")
    run_pipeline(image.pk)
    image.refresh_from_db()
    assert image.status == LesionImage.Status.DONE, image.error
    return image


def test_clinician_follows_a_lesion_from_first_photo_to_comparison(chromium, live_server, screenshots):
    require_service(
        registry.initial_model_path().is_file(),
        f"the served model {registry.initial_model_path()} is missing",
    )
    clinician = MembershipFactory().user
    context = chromium.new_context(viewport=DESKTOP)
    page = context.new_page()
    console_errors, failed_requests = [], []
    page.on("console", lambda message: console_errors.append(message.text) if message.type == "error" else None)
    page.on("response", lambda response: failed_requests.append(response.url) if response.status >= 400 else None)

    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Username").fill(clinician.username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name=re.compile("sign in|log in", re.I)).click()
    expect(page.get_by_role("heading", name="Patients")).to_be_visible()

    page.get_by_role("link", name="New patient").click()
    page.get_by_label("Medical record number").fill("BRW-001")
    page.get_by_label("First name").fill("Rosa")
    page.get_by_label("Last name").fill("Browning")
    page.get_by_label("Date of birth").fill("1970-04-12")
    shoot(page, screenshots, "02-new-patient")
    page.get_by_role("button", name="Add patient").click()
    expect(page.get_by_role("heading", name="Rosa Browning")).to_be_visible()
    patient = Patient.objects.get(medical_record_number="BRW-001")

    diagram = page.locator("#body-diagram")
    box = diagram.bounding_box()
    page.mouse.click(box["x"] + box["width"] * 0.30, box["y"] + box["height"] * 0.30)
    expect(page.locator("#placement")).to_contain_text("front view")
    page.get_by_label("Body site").select_option("chest")
    page.get_by_label("Label").fill("Left chest, A")
    shoot(page, screenshots, "03-patient-placing-lesion")
    page.get_by_role("button", name="Add lesion").click()
    expect(page.get_by_role("heading", name="Left chest, A")).to_be_visible()
    lesion = Lesion.objects.get(patient=patient)
    assert lesion.diagram_x == pytest.approx(0.30, abs=0.02) and lesion.diagram_y == pytest.approx(0.30, abs=0.02)

    # A photo too small to use is refused beside the field, and nothing is stored.
    choose_photo(page, "tiny.png", encode(lesion_photo((40, 30)), "PNG"), "image/png")
    page.get_by_role("button", name="Upload photo").click()
    expect(page.locator("#id_image_errors")).to_contain_text("it must be at least 64x64")
    expect(page.locator("#id_image")).to_be_focused()
    assert not LesionImage.objects.exists()

    # The first photo: its date taken is read from EXIF in the page, previewed, then sent.
    choose_photo(page, "first.jpg", jpeg_with_date_taken(real_lesion_photo(), "2026:05:01 10:00:00"))
    expect(page.locator("#id_captured_at")).to_have_value("2026-05-01T10:00")
    expect(page.locator("#upload-preview")).to_be_visible()
    page.get_by_label("Modality").select_option("dermoscopic")
    page.get_by_role("button", name="Upload photo").click()
    cards = page.locator("#timeline .photo-card")
    expect(cards).to_have_count(1)
    expect(cards.first).to_contain_text("Waiting for analysis")
    expect(page.locator("#upload-form .message")).to_be_focused()
    shoot(page, screenshots, "04-lesion-waiting")
    first = classify_newest_photo(lesion)
    expect(cards.first).to_contain_text("Most likely", timeout=RESULT_TIMEOUT_MS)
    expect(cards.first).to_contain_text("not a diagnosis")
    expect(cards.first.locator(".thumb-outline")).to_be_visible()
    assert first.captured_at.strftime("%Y-%m-%d") == "2026-05-01"

    # The second photo, the lesion enlarged by 20%, dated by hand.
    choose_photo(page, "second.jpg", encode(real_lesion_photo(lesion_scale=1.2), "JPEG", quality=95))
    page.get_by_label("Date taken").fill("2026-08-01T10:00")
    page.get_by_role("button", name="Upload photo").click()
    expect(cards).to_have_count(2)
    classify_newest_photo(lesion)
    expect(cards.first).to_contain_text("Most likely", timeout=RESULT_TIMEOUT_MS)
    expect(page.get_by_role("link", name="Compare photos")).to_be_visible(timeout=RESULT_TIMEOUT_MS)
    expect(page.locator(".chart .dot-score")).to_have_count(2)
    page.locator(".prediction details summary").first.click()
    shoot(page, screenshots, "05-lesion-timeline")
    lesion_url = page.url

    page.get_by_role("link", name="Compare photos").click()
    expect(page.get_by_role("heading", name=re.compile("Compare photos"))).to_be_visible()
    expect(page.locator(".flag")).to_contain_text("Changed.")
    expect(page.locator(".flag")).to_contain_text("Area grew")
    expect(page.locator(".alignment")).to_contain_text("alignment")
    shoot(page, screenshots, "06-compare-side-by-side")

    stage = page.locator(".stage")
    stage.focus()
    page.keyboard.press("+")
    page.keyboard.press("+")
    assert float(stage.get_attribute("data-zoom")) > 1.5
    view_before_pan = page.locator(".pane svg").first.get_attribute("viewBox")
    page.keyboard.press("ArrowRight")
    panned = page.locator(".pane svg").first.get_attribute("viewBox")
    assert panned != view_before_pan
    assert len({svg.get_attribute("viewBox") for svg in page.locator(".pane svg").all()}) == 1  # all panes in step
    earlier_pane = page.locator(".pane svg").first.bounding_box()
    centre_x, centre_y = earlier_pane["x"] + earlier_pane["width"] / 2, earlier_pane["y"] + earlier_pane["height"] / 2
    page.mouse.move(centre_x, centre_y)
    page.mouse.down()
    page.mouse.move(centre_x - 40, centre_y - 20, steps=4)
    page.mouse.up()
    dragged = page.locator(".pane svg").last.get_attribute("viewBox")
    assert dragged != panned and page.locator(".pane svg").first.get_attribute("viewBox") == dragged
    page.keyboard.press("0")

    page.get_by_label("Overlay").check()
    opacity = page.get_by_label("Later photo opacity")
    opacity.focus()
    for _ in range(20):
        page.keyboard.press("ArrowRight")
    assert float(page.locator(".overlay-top").get_attribute("opacity")) == pytest.approx(0.7)
    shoot(page, screenshots, "07-compare-overlay")

    page.get_by_label("Swipe").check()
    divider = page.get_by_label("Divider")
    divider.focus()
    for _ in range(25):
        page.keyboard.press("ArrowLeft")
    width = int(page.locator(".stage").get_attribute("data-width"))
    assert float(page.locator(".swipe-rect").get_attribute("x")) == pytest.approx(0.25 * width)
    shoot(page, screenshots, "08-compare-swipe")
    compare_url = page.url

    # The histopathology result comes back: the clinician records it on the lesion page.
    page.goto(lesion_url)
    page.get_by_text("Record a confirmed diagnosis").click()
    page.get_by_label("Diagnosis", exact=True).select_option("mel")
    page.get_by_label("Confirmed by").select_option("histo")
    page.get_by_label("Confirmed on").fill("2026-05-02")
    page.get_by_role("button", name="Record diagnosis").click()
    expect(page.locator("#confirmed-diagnosis")).to_contain_text("Melanoma, confirmed by histopathology on 2026-05-02")
    shoot(page, screenshots, "10-confirmed-diagnosis")

    page.goto(f"{live_server.url}/")
    expect(page.locator(".attention")).to_contain_text("Left chest, A")
    expect(page.locator(".attention")).to_contain_text("Changed")
    shoot(page, screenshots, "01-dashboard")
    # The patient search answers as one types, without a reload.
    page.get_by_label("Find a patient").fill("zzz")
    expect(page.locator("#patient-results")).to_contain_text("No patient matches")
    page.get_by_label("Find a patient").fill("brw")
    expect(page.locator("#patient-results")).to_contain_text("Browning, Rosa")
    assert "q=brw" in page.url
    page.get_by_role("link", name="Learn").click()
    shoot(page, screenshots, "09-learn")

    assert not failed_requests, failed_requests
    assert not console_errors, console_errors
    phone_shots(
        chromium,
        context.storage_state(),
        screenshots,
        {
            "01-dashboard": f"{live_server.url}/",
            "03-patient": f"{live_server.url}/patients/{patient.pk}/",
            "05-lesion-timeline": lesion_url,
            "06-compare": compare_url,
            "09-learn": f"{live_server.url}/learn/",
        },
    )
    context.close()
