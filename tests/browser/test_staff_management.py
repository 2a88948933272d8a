"""A clinic admin in a real browser: invites a colleague, who chooses a password from the emailed link and signs
in; deactivates them (their API token answers 401 at once and their open page is signed out); reads the audit
trail filtered to that colleague and downloads it as CSV.

No worker runs here: the test sends the invitation email itself with the task the worker would run."""

import re
from pathlib import Path

import pytest
from django.core import mail
from playwright.sync_api import expect

from accounts.models import Membership, User
from portal.tasks import send_invitation_email_task
from tests.browser.browser_support import DESKTOP
from tests.browser.test_review_loop import signed_in_page
from tests.conftest import api_client
from tests.factories import MembershipFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.services, pytest.mark.django_db(transaction=True)]

NEW_PASSWORD = "a-fresh-passphrase-41"
COLLEAGUE = "lea.martin@example.net"


def test_an_admin_invites_a_colleague_then_deactivates_them_and_reads_the_trail(chromium, live_server, screenshots):
    admin = MembershipFactory(user=UserFactory(first_name="Ada", last_name="Admin"), role=Membership.Role.ADMIN).user
    admin_context, admin_page, failed = signed_in_page(chromium, live_server, admin)

    admin_page.get_by_role("link", name="Staff").click()
    admin_page.get_by_label("Your colleague's email address").fill(COLLEAGUE)
    admin_page.get_by_label("Role", exact=True).select_option("clinician")
    admin_page.get_by_role("button", name="Send the invitation").click()
    expect(admin_page.get_by_role("status")).to_contain_text(f"An invitation went to {COLLEAGUE}")
    expect(admin_page.get_by_role("row", name=re.compile(COLLEAGUE))).to_contain_text("no password chosen yet")
    admin_page.screenshot(path=str(screenshots / "staff-desktop.png"), full_page=True)

    colleague = User.objects.get(email=COLLEAGUE)
    send_invitation_email_task.apply(args=[colleague.pk])
    [invitation] = mail.outbox
    link = re.search(r"https?://\S+/accounts/password/reset/\S+", invitation.body).group(0)
    colleague_context = chromium.new_context(viewport=DESKTOP)
    colleague_page = colleague_context.new_page()
    colleague_page.goto(link.replace(re.match(r"https?://[^/]+", link).group(0), live_server.url))
    colleague_page.get_by_label("New password", exact=True).fill(NEW_PASSWORD)
    colleague_page.get_by_label("New password confirmation").fill(NEW_PASSWORD)
    colleague_page.get_by_role("button").filter(has_text=re.compile("password", re.I)).click()
    colleague_page.goto(f"{live_server.url}/accounts/login/")
    colleague_page.get_by_label("Username").fill(COLLEAGUE)
    colleague_page.get_by_label("Password").fill(NEW_PASSWORD)
    colleague_page.get_by_role("button", name=re.compile("sign in|log in", re.I)).click()
    expect(colleague_page.get_by_role("button", name=f"Sign out {COLLEAGUE}")).to_be_visible()
    expect(colleague_page.get_by_role("link", name="Staff")).to_have_count(0)  # a clinician, not an admin
    token_client = api_client(colleague)
    assert token_client.get("/api/patients/").status_code == 200

    admin_page.reload()
    admin_page.get_by_role("row", name=re.compile(COLLEAGUE)).get_by_role("link", name="Deactivate…").click()
    expect(admin_page.get_by_role("heading", level=1)).to_have_text(f"Deactivate {COLLEAGUE}?")
    admin_page.get_by_role("button", name="Deactivate the account").click()
    expect(admin_page.get_by_role("status")).to_contain_text("can no longer sign in")
    expect(admin_page.get_by_role("row", name=re.compile(COLLEAGUE))).to_contain_text("Deactivated")

    assert token_client.get("/api/patients/").status_code == 401
    colleague_page.reload()
    expect(colleague_page).to_have_url(re.compile(r"/accounts/login/"))

    admin_page.get_by_role("link", name="Audit trail").click()
    admin_page.get_by_label("User").select_option(label=COLLEAGUE)
    admin_page.get_by_role("button", name="Filter").click()
    expect(admin_page.get_by_role("row", name=re.compile("Signed in"))).not_to_have_count(0)
    admin_page.screenshot(path=str(screenshots / "audit-trail-desktop.png"), full_page=True)
    with admin_page.expect_download() as download:
        admin_page.get_by_role("link", name="Download these events (CSV)").click()
    exported = Path(download.value.path()).read_text(encoding="utf-8").splitlines()
    assert exported[0].startswith("time,user,action,")
    assert len(exported) > 1 and all(f",{COLLEAGUE}," in line for line in exported[1:])
    assert failed == []
    admin_context.close()
    colleague_context.close()
