"""`make run` serves DEBUG=True: its debug pages (URL patterns, tracebacks with patient data, settings) reach this
machine only, whatever address the server is bound to and whatever Host header a client writes."""

import pytest
from django.test import Client

from skintrack.settings import local

REMOTE = {"REMOTE_ADDR": "192.168.1.23"}
LOOPBACKS = ["127.0.0.1", "::1", "::ffff:127.0.0.1"]
DEBUG_PAGE_MARKS = ("DEBUG = True", "Traceback", "Using the URLconf", "SECRET_KEY", "DisallowedHost")


@pytest.fixture
def debug_server(settings):
    settings.DEBUG = True
    settings.MIDDLEWARE = local.MIDDLEWARE
    settings.ROOT_URLCONF = "tests.debug_urls"
    return Client(raise_request_exception=False)


def shows_debug_page(answer) -> bool:
    body = answer.content.decode()
    return any(mark in body for mark in DEBUG_PAGE_MARKS)


def test_a_remote_client_gets_no_traceback(people, debug_server):
    answer = debug_server.get("/failing/", **REMOTE)
    assert answer.status_code == 500
    assert not shows_debug_page(answer)
    assert people.patient_a.last_name not in answer.content.decode()
    as_text = debug_server.get("/failing/", HTTP_ACCEPT="text/plain", **REMOTE)
    assert as_text.status_code == 500 and not shows_debug_page(as_text)


def test_a_remote_client_gets_no_url_listing(db, debug_server):
    answer = debug_server.get("/no-such-page/", **REMOTE)
    assert answer.status_code == 404
    assert not shows_debug_page(answer)
    assert "api/" not in answer.content.decode()


def test_a_spoofed_host_header_gets_no_debug_page(db, debug_server):
    for host in ("localhost", "127.0.0.1"):
        answer = debug_server.get("/failing/", HTTP_HOST=host, **REMOTE)
        assert answer.status_code == 500 and not shows_debug_page(answer), host
    refused = debug_server.get("/accounts/login/", HTTP_HOST="attacker.example", **REMOTE)
    assert refused.status_code == 400 and not shows_debug_page(refused)


def test_behind_a_trusted_proxy_the_forwarded_client_decides(db, debug_server, settings):
    settings.SKINTRACK_TRUSTED_PROXY_COUNT = 1
    answer = debug_server.get("/no-such-page/", REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR="192.168.1.23")
    assert answer.status_code == 404 and not shows_debug_page(answer)


@pytest.mark.parametrize("address", LOOPBACKS)
def test_this_machine_still_gets_the_debug_pages(people, debug_server, address):
    assert "Using the URLconf" in debug_server.get("/no-such-page/", REMOTE_ADDR=address).content.decode()
    failed = debug_server.get("/failing/", REMOTE_ADDR=address)
    assert failed.status_code == 500 and "Traceback" in failed.content.decode()
