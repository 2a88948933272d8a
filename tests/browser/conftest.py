"""Headless Debian Chromium driven by Playwright against pytest-django's live server. No browser is ever
downloaded: without /usr/bin/chromium these tests skip with the reason (and fail under CI=true)."""

from pathlib import Path

import pytest
from django.db import connections

from tests.conftest import require_program

SCREENSHOTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]


@pytest.fixture
def chromium(monkeypatch):
    executable = require_program("chromium")
    from playwright.sync_api import sync_playwright

    # Playwright's sync API runs an event loop in this thread, which Django reads as async code; the test's own
    # ORM calls are plain synchronous ones. Set for this test only: the deploy check refuses the variable.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield browser
        browser.close()
        # While Playwright's loop runs, Django's per-thread connections are per async context, so the test's own
        # queries opened a second connection; close it, or PostgreSQL refuses to drop the test database.
        connections.close_all()


@pytest.fixture
def screenshots():
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS
