import re

import pytest
from django.core import mail
from django.core.management import CommandError, call_command

from accounts.models import Membership, User
from tests.factories import PASSWORD


def test_add_clinician_creates_clinic_and_user(db, monkeypatch):
    monkeypatch.setenv("SKINTRACK_PASSWORD", "a-long-clinic-passphrase")
    call_command("add_clinician", "drlee", "--clinic", "North Clinic", "--email", "lee@example.org", "--admin")
    call_command("add_clinician", "drkim", "--clinic", "North Clinic", "--email", "kim@example.org")
    lee, kim = User.objects.get(username="drlee"), User.objects.get(username="drkim")
    assert lee.check_password("a-long-clinic-passphrase")
    assert lee.memberships.get().role == Membership.Role.ADMIN
    assert kim.memberships.get().role == Membership.Role.CLINICIAN
    assert lee.memberships.get().clinic == kim.memberships.get().clinic


def test_add_clinician_refuses_weak_password_and_duplicates(db, monkeypatch):
    monkeypatch.setenv("SKINTRACK_PASSWORD", "12345")
    with pytest.raises(CommandError, match="too short"):
        call_command("add_clinician", "drlee", "--clinic", "North", "--email", "lee@example.org")
    assert not User.objects.exists()
    monkeypatch.setenv("SKINTRACK_PASSWORD", "a-long-clinic-passphrase")
    call_command("add_clinician", "drlee", "--clinic", "North", "--email", "lee@example.org")
    with pytest.raises(CommandError, match="already exists"):
        call_command("add_clinician", "drlee", "--clinic", "North", "--email", "lee@example.org")


def test_login_logout_and_password_change(people, client):
    assert client.get("/").status_code == 302
    answer = client.post("/accounts/login/", {"username": people.clinician_a.username, "password": PASSWORD})
    assert answer.status_code == 302
    home = client.get("/")
    assert people.patient_a.last_name in home.content.decode()
    assert "decision support" in home.content.decode()
    changed = client.post(
        "/accounts/password/change/",
        {"old_password": PASSWORD, "new_password1": "another-long-secret-9", "new_password2": "another-long-secret-9"},
    )
    assert changed.status_code == 302
    client.post("/accounts/logout/")
    assert client.get("/").status_code == 302
    again = client.post(
        "/accounts/login/", {"username": people.clinician_a.username, "password": "another-long-secret-9"}
    )
    assert again.status_code == 302


def test_password_reset_by_email(people, client):
    client.post("/accounts/password/reset/", {"email": people.clinician_a.email})
    assert len(mail.outbox) == 1
    link = re.search(r"https?://[^/]+(/accounts/password/reset/\S+)", mail.outbox[0].body).group(1)
    form = client.get(link, follow=True)
    assert form.status_code == 200
    done = client.post(
        form.redirect_chain[-1][0], {"new_password1": "reset-and-long-77", "new_password2": "reset-and-long-77"}
    )
    assert done.status_code == 302
    people.clinician_a.refresh_from_db()
    assert people.clinician_a.check_password("reset-and-long-77")


def test_patient_sees_only_own_record_on_home(people, client):
    client.force_login(people.patient_a_user)
    page = client.get("/", follow=True).content.decode()
    assert people.patient_a.last_name in page
    assert people.patient_b.last_name not in page
