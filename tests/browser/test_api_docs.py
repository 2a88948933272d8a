"""The API documentation renders in a real browser from this site alone, under the site's strict
content-security policy: no CDN (many clinics have no internet), no inline script."""

import pytest
from playwright.sync_api import expect

from tests.browser.browser_support import DESKTOP

pytestmark = [pytest.mark.browser, pytest.mark.services, pytest.mark.django_db(transaction=True)]


def operations(page, path: str):
    """Swagger UI's blocks, one per method, for one path of the schema."""
    return page.locator(".opblock").filter(has=page.locator(f'[data-path="{path}"]'))


def test_api_docs_render_the_operations_offline_under_the_content_security_policy(chromium, live_server):
    context = chromium.new_context(viewport=DESKTOP)
    elsewhere, console_errors = [], []

    def only_this_site(route):
        # Anything not served by the site itself is refused, as it would be in a clinic without internet.
        if route.request.url.startswith(live_server.url):
            route.continue_()
        else:
            elsewhere.append(route.request.url)
            route.abort()

    context.route("**/*", only_this_site)
    page = context.new_page()
    page.on("console", lambda message: console_errors.append(message.text) if message.type == "error" else None)

    answer = page.goto(f"{live_server.url}/api/docs/")
    policy = answer.headers["content-security-policy"]
    script_sources = next(part for part in policy.split(";") if part.strip().startswith("script-src"))
    assert script_sources.split() == ["script-src", "'self'"]

    patients = operations(page, "/api/patients/")
    expect(patients.first).to_be_visible(timeout=15_000)
    methods = {text.strip() for text in patients.locator(".opblock-summary-method").all_inner_texts()}
    assert {"GET", "POST"} <= methods
    expect(operations(page, "/api/lesions/{id}/images/")).not_to_have_count(0)
    assert elsewhere == [], f"the docs asked for files outside the site: {elsewhere}"
    assert console_errors == [], f"the browser refused or failed something: {console_errors}"
    context.close()
