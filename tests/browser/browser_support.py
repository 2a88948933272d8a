"""Shared by the browser tests: screen sizes, signing in, choosing a photo and taking screenshots."""

import re

from tests.factories import PASSWORD

DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}
# The page itself must not scroll sideways (a wide table may, inside its own scrolling box); name the culprits.
WIDER_THAN_THE_SCREEN = """
document.documentElement.scrollWidth <= document.documentElement.clientWidth ? [] :
[...document.querySelectorAll("body *")]
  .filter((element) => element.getBoundingClientRect().right > document.documentElement.clientWidth + 1)
  .filter((element) => !element.closest(".table-wrap"))
  .map((element) => `${element.tagName.toLowerCase()}.${element.className} ${element.getBoundingClientRect().right}`)
  .slice(0, 5)
"""


def signed_in_page(chromium, live_server, user):
    context = chromium.new_context(viewport=DESKTOP)
    page = context.new_page()
    failed = []
    page.on("response", lambda response: failed.append(response.url) if response.status >= 500 else None)
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Username").fill(user.username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name=re.compile("sign in|log in", re.I)).click()
    page.wait_for_load_state("networkidle")
    return context, page, failed


def choose_photo(page, name: str, content: bytes, mime: str = "image/jpeg") -> None:
    page.set_input_files("#id_image", files=[{"name": name, "mimeType": mime, "buffer": content}])


def shoot(context_page, screenshots, name: str) -> None:
    context_page.screenshot(path=str(screenshots / f"{name}-desktop.png"), full_page=True)


def phone_shots(chromium, storage_state, screenshots, pages: dict[str, str]) -> None:
    phone = chromium.new_context(viewport=PHONE, storage_state=storage_state, device_scale_factor=2, is_mobile=True)
    page = phone.new_page()
    for name, url in pages.items():
        page.goto(url)
        page.wait_for_load_state("networkidle")
        page.screenshot(path=str(screenshots / f"{name}-phone.png"), full_page=True)
        too_wide = page.evaluate(WIDER_THAN_THE_SCREEN)
        assert not too_wide, f"{name} scrolls sideways on a phone: {too_wide}"
    phone.close()
