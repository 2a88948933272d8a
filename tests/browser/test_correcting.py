"""Correcting the record in a real browser: a clinic admin moves a photo filed under the wrong lesion, deletes it,
restores it from the deleted records page, and moves a lesion's pin on the body diagram, which sets its site."""

import re

import pytest
from playwright.sync_api import expect

from accounts.models import Membership
from lesions.models import BodySite, LesionImage
from tests.browser.browser_support import shoot, signed_in_page
from tests.factories import LesionFactory, LesionImageFactory, MembershipFactory, PatientFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.services, pytest.mark.django_db(transaction=True)]


def test_a_photo_is_moved_deleted_and_restored_and_a_pin_is_moved(chromium, live_server, screenshots):
    admin = MembershipFactory(user=UserFactory(first_name="Ines", last_name="Moreau"), role=Membership.Role.ADMIN).user
    patient = PatientFactory(clinic=admin.memberships.get().clinic, first_name="Rosa", last_name="Vidal")
    shoulder = LesionFactory(patient=patient, label="Left shoulder")
    calf = LesionFactory(patient=patient, label="Right calf")
    misfiled = LesionImageFactory(lesion=shoulder, uploaded_by=admin, captured_at="2026-03-01T10:00:00Z")
    context, page, failed = signed_in_page(chromium, live_server, admin)

    # Move: the photo was filed under the shoulder; it belongs to the calf.
    page.goto(f"{live_server.url}/lesions/{shoulder.pk}/")
    page.locator(f"#photo-{misfiled.pk}").get_by_role("link", name="Move, re-date or delete this photo").click()
    page.get_by_label("Lesion").select_option(label="Right calf")
    page.get_by_label("Date taken").fill("2026-02-27T09:30")
    page.locator("#photo-correction").get_by_role("button", name="Save").click()
    expect(page).to_have_url(f"{live_server.url}/lesions/{calf.pk}/")
    expect(page.get_by_text("The photo was corrected.")).to_be_visible()
    expect(page.locator(f"#photo-{misfiled.pk}")).to_contain_text("2026-02-27 09:30")
    misfiled.refresh_from_db()
    assert misfiled.lesion_id == calf.pk

    # Delete it, then restore it as the clinic's admin.
    page.locator(f"#photo-{misfiled.pk}").get_by_role("link", name="Move, re-date or delete this photo").click()
    page.get_by_role("button", name="Delete this photo").click()
    expect(page).to_have_url(f"{live_server.url}/lesions/{calf.pk}/")
    expect(page.get_by_text("The photo was deleted.")).to_be_visible()
    expect(page.locator(f"#photo-{misfiled.pk}")).to_have_count(0)
    assert not LesionImage.objects.filter(pk=misfiled.pk).exists()

    page.goto(f"{live_server.url}/")
    page.get_by_role("link", name="Deleted photos and lesions").click()
    shoot(page, screenshots, "deleted-records")
    page.get_by_role("button", name=f"Restore photo {misfiled.pk}").click()
    expect(page.get_by_text("The photo was restored.")).to_be_visible()
    expect(page.get_by_text("No photo deleted in the last 30 days.")).to_be_visible()
    page.goto(f"{live_server.url}/lesions/{calf.pk}/")
    expect(page.locator(f"#photo-{misfiled.pk}")).to_be_visible()

    # Move the calf's pin onto the face of the front view: the site follows the pin.
    page.get_by_text(re.compile("Edit name, site, place on the diagram")).click()
    diagram = page.locator("#body-diagram")
    face = diagram.evaluate(
        "svg => { const point = svg.createSVGPoint(); point.x = 50; point.y = 22;"
        " const screen = point.matrixTransform(svg.getScreenCTM()); return [screen.x, screen.y]; }"
    )
    page.mouse.click(*face)
    expect(page.locator("#placement")).to_contain_text("front view")
    page.locator("form[action$='/edit/']").get_by_role("button", name="Save").click()
    expect(page.get_by_text("The lesion's details were saved.")).to_be_visible()
    calf.refresh_from_db()
    assert calf.body_site == BodySite.FACE
    assert failed == []
    context.close()
