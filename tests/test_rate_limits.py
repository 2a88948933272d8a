"""Limits on guessing and flooding: sign-ins per client address whatever the usernames (password spraying), and
password-reset emails per address typed and per client address, each with a clear answer."""

from django.core import mail
from django.test import Client
from rest_framework.test import APIClient

from tests.factories import PASSWORD, UserFactory

ATTACKER = {"REMOTE_ADDR": "198.51.100.7"}
CLINIC = {"REMOTE_ADDR": "192.0.2.44"}


def test_one_address_spraying_many_usernames_is_locked_out(people, settings):
    client = Client()
    tried = [
        client.post("/accounts/login/", {"username": f"guess{index}", "password": "Summer2026!"}, **ATTACKER)
        for index in range(settings.SKINTRACK_LOGIN_FAILURES_PER_ADDRESS)
    ]
    assert [answer.status_code for answer in tried] == [200] * (len(tried) - 1) + [429]
    refused = client.post(
        "/accounts/login/", {"username": people.clinician_a.username, "password": PASSWORD}, **ATTACKER
    )
    assert refused.status_code == 429
    assert "many from this network" in refused.content.decode()
    # Another address signs in as usual.
    signed_in = Client().post(
        "/accounts/login/", {"username": people.clinician_a.username, "password": PASSWORD}, **CLINIC
    )
    assert signed_in.status_code == 302


def test_the_api_answers_429_to_a_locked_out_address(people, settings):
    settings.SKINTRACK_LOGIN_FAILURES_PER_ADDRESS = 4
    client = APIClient()
    tried = [
        client.post("/api/auth/token/", {"username": f"guess{index}", "password": "wrong"}, **ATTACKER).status_code
        for index in range(4)
    ]
    assert tried == [400, 400, 400, 429]
    refused = client.post(
        "/api/auth/token/", {"username": people.clinician_a.username, "password": PASSWORD}, **ATTACKER
    )
    assert refused.status_code == 429
    assert "Too many failed sign-ins" in refused.json()["detail"]
    assert "token" not in refused.json()
    other = client.post("/api/auth/token/", {"username": people.clinician_a.username, "password": PASSWORD}, **CLINIC)
    assert other.status_code == 200 and other.json()["token"]


def test_password_reset_emails_to_one_address_are_bounded(people, settings):
    client = Client()
    answers = [
        client.post("/accounts/password/reset/", {"email": people.clinician_a.email}, **ATTACKER).status_code
        for _ in range(12)
    ]
    allowed = settings.SKINTRACK_PASSWORD_RESETS_PER_EMAIL_PER_HOUR
    assert answers == [302] * allowed + [429] * (12 - allowed)
    assert len(mail.outbox) == allowed
    refused = client.post("/accounts/password/reset/", {"email": people.clinician_a.email.upper()}, **CLINIC)
    assert refused.status_code == 429
    assert "Too many password-reset emails" in refused.content.decode()
    assert len(mail.outbox) == allowed
    # Another person's reset is unaffected.
    assert client.post("/accounts/password/reset/", {"email": people.clinician_b.email}, **CLINIC).status_code == 302
    assert mail.outbox[-1].to == [people.clinician_b.email]


def test_password_reset_requests_from_one_client_address_are_bounded(db, settings):
    settings.SKINTRACK_PASSWORD_RESETS_PER_ADDRESS_PER_HOUR = 5
    users = [UserFactory() for _ in range(7)]
    client = Client()
    answers = [
        client.post("/accounts/password/reset/", {"email": user.email}, **ATTACKER).status_code for user in users
    ]
    assert answers == [302] * 5 + [429] * 2
    assert len(mail.outbox) == 5
    assert client.post("/accounts/password/reset/", {"email": users[-1].email}, **CLINIC).status_code == 302
    assert len(mail.outbox) == 6


def test_the_api_sign_in_throttle_is_not_escaped_by_a_made_up_forwarded_for_header(db):
    client = APIClient()
    answers = [
        client.post(
            "/api/auth/token/",
            {"username": f"someone{index}", "password": "wrong"},
            HTTP_X_FORWARDED_FOR=f"203.0.113.{index}",
            **ATTACKER,
        ).status_code
        for index in range(11)
    ]
    assert answers == [400] * 10 + [429]  # SKINTRACK_LOGIN_THROTTLE: 10/min
