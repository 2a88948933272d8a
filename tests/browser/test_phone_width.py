"""Every page of the site at phone width (390 px) without sideways scrolling.

The pages are the URL configuration's routes, with the path and the users from the permission matrix
(tests/test_permission_matrix.py): each page is opened as every kind of user the matrix lets see it (anonymous,
patient, clinician, clinic admin of clinic A). A route added later is covered without a line here; only a route
that answers no page to look at (an API, an image, a PDF, a fragment, a form action) needs one in NOT_PAGES, and
the test names any route that answers something else than a page."""

import pytest
from django.conf import settings
from django.test import Client
from django.urls import get_resolver

from lesions.models import Disposition, LesionImage
from lesions.services import review_photo
from lesions.tasks import measure_pair_task
from sharing.services import share_lesion
from tests.browser.browser_support import PHONE
from tests.factories import LesionImageFactory, PredictionFactory
from tests.model_files import run_pipeline, served_model
from tests.pages_support import days_ago
from tests.route_matrix import PASSES, ROUTES, World, route_names

pytestmark = [pytest.mark.browser, pytest.mark.services, pytest.mark.django_db(transaction=True)]

# The kinds of user a page is opened as, when the matrix lets them see it (patient B and clinic B see the same
# pages as patient A and clinic A, or nothing).
VIEWERS = ("anonymous", "patient_a", "clinician_a", "admin_a")

FRAGMENT = "an htmx fragment swapped into the lesion page, which is checked whole"
ACTION = "a form's POST action: it answers with a redirect or with the page the form is on"
# Route -> why it answers no page to fit on a phone. Besides these, the `api` namespace answers JSON or files
# (its one HTML page, the Swagger UI, is a third-party page for developers: tests/browser/test_api_docs.py), and
# the admin site is Django's own.
NOT_PAGES = {
    "logout": ACTION,
    "sharing:shared-image": "a photo file",
    "sharing:shared-report": "a PDF",
    "lesion-report": "a PDF",
    "clinic:audit-export": "a CSV download",
    "sharing:share-revoke": ACTION,
    "lesion-edit": ACTION,
    "lesion-diagnosis": ACTION,
    "lesion-status": ACTION,
    "lesion-chart": FRAGMENT,
    "photo-upload": ACTION,
    "photo-card": FRAGMENT,
    "photo-classify-anyway": ACTION,
    "photo-review": ACTION,
    "photo-acknowledge": ACTION,
    "photo-outline": "a PNG drawn over the photo",
}

# What is wider than the screen: the elements that overflow though none of their children does (the culprits, not
# the boxes that hold them), widest first; and any table that needs its own scroll bar.
OVERFLOW = """(screen) => {
  const describe = (element) => {
    const name = element.tagName.toLowerCase() + (element.id ? "#" + element.id : "")
      + [...element.classList].map((cls) => "." + cls).join("");
    const box = element.getBoundingClientRect();
    return `${name} (${Math.round(box.left)}-${Math.round(box.right)} px): ${element.textContent.trim().slice(0, 50)}`;
  };
  const overflows = (element) => element.getBoundingClientRect().right > screen + 0.5;
  const page = document.documentElement.scrollWidth > screen
    ? [...document.querySelectorAll("body *")]
        .filter((element) => overflows(element) && ![...element.children].some(overflows))
        .sort((a, b) => b.getBoundingClientRect().width - a.getBoundingClientRect().width)
    : [];
  const scrollers = [...document.querySelectorAll(".table-wrap")].filter((wrap) => wrap.scrollWidth > wrap.clientWidth);
  return {
    scrollWidth: document.documentElement.scrollWidth,
    culprits: [...page, ...scrollers].slice(0, 4).map(describe),
  };
}"""


def page_routes() -> list[str]:
    names = route_names(get_resolver().url_patterns)
    return sorted(name for name in names if not name.startswith(("admin:", "api:")) and name not in NOT_PAGES)


def viewers_of(name: str) -> list[str]:
    """Everyone the matrix lets open the page; a page that sends everyone on (a password-reset link) is opened
    anonymously, and where it leads is checked."""
    expected = ROUTES[name].expected
    return [role for role in VIEWERS if expected[role] in (200, PASSES)] or ["anonymous"]


class PhoneWorld(World):
    """The matrix's world, with what makes a page long and wide: classified, reviewed photos whose change was
    measured, a long lesion label, a share to a long address, a follow-up photo overdue, a photo in the review
    queue."""

    def __init__(self):
        super().__init__()
        self.lesion_a.label = "Left upper back, below the shoulder blade, the darker of two"
        self.lesion_a.follow_up_interval, self.lesion_a.follow_up_unit = 2, "months"
        self.lesion_a.save()
        photos = [
            LesionImageFactory(
                lesion=self.lesion_a, uploaded_by=self.clinician_a, lesion_scale=scale, captured_at=days_ago(days)
            )
            for scale, days in ((1.0, 200), (1.2, 90))
        ]
        for photo in photos:
            run_pipeline(photo.pk)
            photo.refresh_from_db()
            assert photo.status == LesionImage.Status.DONE, photo.error
            review_photo(
                image=photo,
                reviewed_by=self.clinician_a,
                disposition=Disposition.SEE_IN_CLINIC,
                note_to_patient="A new photo in two months, please, in daylight and from the same distance.",
            )
        measure_pair_task(*(photo.pk for photo in photos))
        share_lesion(
            lesion=self.lesion_a,
            shared_by=self.patient_a_user,
            to="dr.bartholomew.featherstonehaugh@longname-family-practice.example.org",
        )
        PredictionFactory(
            image=LesionImageFactory(lesion=self.lesion_b, uploaded_by=self.patient_b_user),
            most_likely="mel",
            probability=0.6,
        )


def sign_in(context, user, *, site: str) -> None:
    client = Client()
    client.force_login(user)
    cookie = client.cookies[settings.SESSION_COOKIE_NAME]
    context.add_cookies([{"name": cookie.key, "value": cookie.value, "url": site}])


def test_every_route_is_listed_where_it_exists():
    names = set(route_names(get_resolver().url_patterns))
    assert set(NOT_PAGES) - names == set(), "NOT_PAGES lists routes that no longer exist"


def test_every_page_fits_a_phone_without_scrolling_sideways(chromium, live_server, screenshots):
    from playwright.sync_api import Error as BrowserError  # imported once the fixture found Chromium, as there

    served_model()
    world = PhoneWorld()
    failures = []
    for role in VIEWERS:
        context = chromium.new_context(viewport=PHONE, device_scale_factor=1, is_mobile=True, base_url=live_server.url)
        if world.user(role) is not None:
            sign_in(context, world.user(role), site=live_server.url)
        page = context.new_page()
        for name in page_routes():
            if role not in viewers_of(name):
                continue
            url = ROUTES[name].url.format(**world.values)
            try:
                answer = page.goto(url)
            except BrowserError as error:  # a file to download, for one
                failures.append(
                    f"{name} as {role}: {url} opened no page ({error.message.splitlines()[0]}); if it is "
                    "none, list it in NOT_PAGES with the reason"
                )
                continue
            content_type = answer.headers.get("content-type", "")
            if answer.status >= 400 or not content_type.startswith("text/html"):
                failures.append(
                    f"{name} as {role}: {url} answered {answer.status} {content_type}, no page; if it is "
                    "none, list it in NOT_PAGES with the reason"
                )
                continue
            page.wait_for_load_state("networkidle")
            page.screenshot(path=str(screenshots / f"phone-{name.replace(':', '-')}-{role}.png"), full_page=True)
            # Against the phone's width, not innerWidth: on a mobile viewport Chromium widens the layout viewport
            # to fit a page too wide for it, so innerWidth grows with the overflow.
            overflow = page.evaluate(OVERFLOW, PHONE["width"])
            if overflow["scrollWidth"] > PHONE["width"] or overflow["culprits"]:
                failures.append(
                    f"{name} as {role} ({url}): {overflow['scrollWidth']} px wide on a "
                    f"{PHONE['width']} px screen; widest: {overflow['culprits']}"
                )
        context.close()
    assert not failures, "\n".join(failures)
