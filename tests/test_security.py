"""Accounts and HTTP hardening: argon2, sign-in lockout, security headers."""

from django.contrib.auth.hashers import Argon2PasswordHasher

from skintrack.settings import base
from tests.conftest import api_client
from tests.factories import PASSWORD


def test_passwords_are_hashed_with_argon2_outside_tests():
    assert base.PASSWORD_HASHERS[0] == "django.contrib.auth.hashers.Argon2PasswordHasher"
    hasher = Argon2PasswordHasher()
    encoded = hasher.encode("a-clinic-passphrase", hasher.salt())
    assert encoded.startswith("argon2$argon2id$")
    assert hasher.verify("a-clinic-passphrase", encoded)
    assert not hasher.verify("another-passphrase", encoded)


def test_repeated_wrong_passwords_lock_the_sign_in(people, client, settings):
    username = people.clinician_a.username
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        answer = client.post("/accounts/login/", {"username": username, "password": "wrong"})
        assert answer.status_code == 200
        assert "correct username and password" in answer.content.decode()
    assert client.post("/accounts/login/", {"username": username, "password": "wrong"}).status_code == 429
    locked = client.post("/accounts/login/", {"username": username, "password": PASSWORD})
    assert locked.status_code == 429
    assert "Too many sign-in attempts" in locked.content.decode()
    token = api_client().post("/api/auth/token/", {"username": username, "password": PASSWORD})
    assert token.status_code == 429
    assert "token" not in token.json()


def test_a_correct_password_resets_the_count(people, client, settings):
    username = people.clinician_a.username
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        client.post("/accounts/login/", {"username": username, "password": "wrong"})
    assert client.post("/accounts/login/", {"username": username, "password": PASSWORD}).status_code == 302
    client.post("/accounts/logout/")
    client.post("/accounts/login/", {"username": username, "password": "wrong"})
    assert client.post("/accounts/login/", {"username": username, "password": PASSWORD}).status_code == 302


def test_pages_carry_security_headers(client):
    page = client.get("/accounts/login/")
    assert "script-src 'self'" in page["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in page["Content-Security-Policy"]
    assert page["X-Frame-Options"] == "DENY"
    assert page["X-Content-Type-Options"] == "nosniff"
    assert page["Referrer-Policy"] == "same-origin"
    assert page.cookies["csrftoken"]["samesite"] == "Lax"


def test_behind_a_trusted_proxy_the_client_address_comes_from_x_forwarded_for(people, settings):
    from audit.models import AuditEvent

    def audited_address(**headers) -> str:
        api_client(people.clinician_a).get("/api/patients/", **headers)
        return AuditEvent.objects.order_by("-id").values_list("ip_address", flat=True)[0]

    spoofed = {"HTTP_X_FORWARDED_FOR": "203.0.113.9, 198.51.100.7", "REMOTE_ADDR": "10.0.0.2"}
    # Without a proxy configured, a header the client wrote itself is ignored.
    assert audited_address(**spoofed) == "10.0.0.2"
    settings.SKINTRACK_TRUSTED_PROXY_COUNT = 1
    # One proxy: the address it appended, never the client-written one further left.
    assert audited_address(**spoofed) == "198.51.100.7"
    assert audited_address(HTTP_X_FORWARDED_FOR="not-an-address", REMOTE_ADDR="10.0.0.2") == "10.0.0.2"
    settings.SKINTRACK_TRUSTED_PROXY_COUNT = 3
    assert audited_address(**spoofed) == "10.0.0.2"  # fewer entries than proxies: not through every proxy


def test_the_sign_in_lockout_counts_per_client_behind_a_proxy(people, client, settings):
    settings.SKINTRACK_TRUSTED_PROXY_COUNT = 1
    username = people.clinician_a.username
    attacker = {"HTTP_X_FORWARDED_FOR": "198.51.100.7", "REMOTE_ADDR": "10.0.0.2"}
    for _ in range(settings.AXES_FAILURE_LIMIT):
        client.post("/accounts/login/", {"username": username, "password": "wrong"}, **attacker)
    assert client.post("/accounts/login/", {"username": username, "password": PASSWORD}, **attacker).status_code == 429
    # The clinician at another address behind the same proxy still signs in.
    clinician = {"HTTP_X_FORWARDED_FOR": "192.0.2.44", "REMOTE_ADDR": "10.0.0.2"}
    assert client.post("/accounts/login/", {"username": username, "password": PASSWORD}, **clinician).status_code == 302
