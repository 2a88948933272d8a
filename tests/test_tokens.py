"""API tokens: kept only as digests, a new one per sign-in, ending after REST_KNOX's TTL, on sign-out (API or
pages), on a password change or reset, and when the account is deactivated."""

import re
from datetime import timedelta

from django.core import mail
from django.db import connection
from django.test import Client
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from knox.models import AuthToken
from rest_framework.test import APIClient

from audit.models import AuditEvent
from tests.factories import PASSWORD

NEW_PASSWORD = "a-fresh-clinic-passphrase"


def obtain_token(user, password: str = PASSWORD) -> str:
    answer = APIClient().post("/api/auth/token/", {"username": user.username, "password": password})
    assert answer.status_code == 200, answer.content
    return answer.json()["token"]


def answer_with(token: str) -> int:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    return client.get("/api/patients/").status_code


def signed_in(user) -> Client:
    client = Client()
    assert client.post("/accounts/login/", {"username": user.username, "password": PASSWORD}).status_code == 302
    return client


def test_a_token_is_new_on_each_sign_in_and_stored_only_as_a_digest(people):
    first, second = obtain_token(people.clinician_a), obtain_token(people.clinician_a)
    assert first != second
    assert answer_with(first) == 200 and answer_with(second) == 200
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM knox_authtoken")
        stored = " ".join(str(value) for row in cursor.fetchall() for value in row)
    assert first not in stored and second not in stored
    assert AuditEvent.objects.filter(action=AuditEvent.Action.LOGIN, actor=people.clinician_a).count() == 2


def test_a_token_expires_after_the_configured_time(people):
    before = timezone.now()
    answer = APIClient().post("/api/auth/token/", {"username": people.clinician_a.username, "password": PASSWORD})
    expiry = parse_datetime(answer.json()["expiry"])
    assert before + timedelta(hours=10) <= expiry <= timezone.now() + timedelta(hours=10)
    token = answer.json()["token"]
    assert answer_with(token) == 200
    AuthToken.objects.filter(user=people.clinician_a).update(expiry=timezone.now() - timedelta(seconds=1))
    assert answer_with(token) == 401


def test_api_sign_out_ends_that_token_only(people):
    token, other = obtain_token(people.clinician_a), obtain_token(people.clinician_a)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert client.post("/api/auth/logout/").status_code == 204
    assert answer_with(token) == 401
    assert answer_with(other) == 200
    assert AuditEvent.objects.filter(action=AuditEvent.Action.LOGOUT, actor=people.clinician_a).exists()
    assert APIClient().post("/api/auth/logout/").status_code == 401


def test_signing_out_of_the_pages_ends_the_users_tokens(people):
    token = obtain_token(people.clinician_a)
    others = obtain_token(people.clinician_b)
    signed_in(people.clinician_a).post("/accounts/logout/")
    assert answer_with(token) == 401
    assert answer_with(others) == 200


def test_api_sign_out_with_a_session_ends_the_session_and_the_tokens(people):
    token = obtain_token(people.clinician_a)
    client = signed_in(people.clinician_a)
    assert client.post("/api/auth/logout/").status_code == 204
    assert client.get("/api/patients/").status_code in (401, 403)
    assert answer_with(token) == 401


def test_a_password_change_ends_every_token(people):
    token = obtain_token(people.clinician_a)
    untouched = obtain_token(people.clinician_b)
    changed = signed_in(people.clinician_a).post(
        "/accounts/password/change/",
        {"old_password": PASSWORD, "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )
    assert changed.status_code == 302
    assert answer_with(token) == 401
    assert answer_with(untouched) == 200
    assert answer_with(obtain_token(people.clinician_a, NEW_PASSWORD)) == 200


def test_a_password_reset_ends_every_token(people):
    token = obtain_token(people.clinician_a)
    client = Client()
    assert client.post("/accounts/password/reset/", {"email": people.clinician_a.email}).status_code == 302
    [message] = mail.outbox
    link = re.search(r"/accounts/password/reset/[^/\s]+/[^/\s]+/", message.body).group(0)
    set_password_page = client.get(link)
    assert set_password_page.status_code == 302
    done = client.post(set_password_page.url, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})
    assert done.status_code == 302
    assert answer_with(token) == 401
    people.clinician_a.refresh_from_db()
    assert people.clinician_a.check_password(NEW_PASSWORD)


def test_deactivating_an_account_ends_its_tokens(people):
    token = obtain_token(people.clinician_a)
    people.clinician_a.is_active = False
    people.clinician_a.save()
    assert not AuthToken.objects.filter(user=people.clinician_a).exists()
    assert answer_with(token) == 401


def test_a_token_that_is_not_text_is_refused_as_invalid(people):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token \xff\xfe")
    assert client.get("/api/patients/").status_code == 401
