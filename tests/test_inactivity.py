"""Signed-in sessions end after a period without activity: each clinic's setting, the shortest of a user's
clinics, 30 minutes by default (sessions used to last 10 hours regardless)."""

import time

import pytest
from django.db import IntegrityError, transaction
from django.test import Client
from knox.models import AuthToken

from accounts.middleware import LAST_ACTIVITY_KEY
from accounts.models import Clinic, Membership
from tests.factories import PASSWORD, ClinicFactory, MembershipFactory


def signed_in(user) -> Client:
    client = Client()
    assert client.post("/accounts/login/", {"username": user.username, "password": PASSWORD}).status_code == 302
    assert client.get("/").status_code in (200, 302)
    return client


def idle(client: Client, minutes: float) -> None:
    """As if the last request had come `minutes` ago."""
    session = client.session
    session[LAST_ACTIVITY_KEY] = time.time() - minutes * 60
    session.save()


def still_signed_in(client: Client) -> bool:
    return client.get("/shares/").status_code == 200


def test_a_session_idle_past_the_default_half_hour_ends_with_a_message(people):
    client = signed_in(people.clinician_a)
    idle(client, 29)
    assert still_signed_in(client)
    idle(client, 31)
    answer = client.get("/shares/", follow=True)
    assert answer.redirect_chain[0][0].startswith("/accounts/login/")
    assert "signed out after 30 minutes without activity" in answer.content.decode()
    assert not still_signed_in(client)


def test_each_request_keeps_the_session_alive(people):
    client = signed_in(people.clinician_a)
    for _ in range(3):
        idle(client, 20)
        assert still_signed_in(client)


def test_the_clinic_sets_the_timeout(people):
    Clinic.objects.filter(pk=people.clinic_a.pk).update(inactivity_timeout_minutes=120)
    client = signed_in(people.clinician_a)
    idle(client, 90)
    assert still_signed_in(client)
    Clinic.objects.filter(pk=people.clinic_a.pk).update(inactivity_timeout_minutes=5)
    idle(client, 6)
    assert not still_signed_in(client)


def test_a_member_of_several_clinics_gets_the_shortest(people):
    strict = ClinicFactory(inactivity_timeout_minutes=10)
    MembershipFactory(user=people.clinician_a, clinic=strict, role=Membership.Role.CLINICIAN)
    client = signed_in(people.clinician_a)
    idle(client, 11)
    assert not still_signed_in(client)
    # Clinic A's other members keep their half hour.
    colleague = signed_in(people.admin_a)
    idle(colleague, 11)
    assert still_signed_in(colleague)


def test_a_patient_gets_their_clinics_timeout(people):
    Clinic.objects.filter(pk=people.clinic_a.pk).update(inactivity_timeout_minutes=15)
    client = signed_in(people.patient_a_user)
    assert client.get(f"/patients/{people.patient_a.pk}/").status_code == 200
    idle(client, 16)
    assert client.get(f"/patients/{people.patient_a.pk}/").status_code == 302


def test_the_api_with_a_session_is_signed_out_too_and_tokens_outlive_it(people):
    _, token = AuthToken.objects.create(user=people.clinician_a)
    client = signed_in(people.clinician_a)
    assert client.get("/api/patients/").status_code == 200
    idle(client, 31)
    assert client.get("/api/patients/").status_code in (401, 403)
    assert Client(HTTP_AUTHORIZATION=f"Token {token}").get("/api/patients/").status_code == 200


@pytest.mark.parametrize("minutes", [0, 601])
def test_the_clinic_setting_is_bounded(db, minutes):
    with pytest.raises(IntegrityError), transaction.atomic():
        ClinicFactory(inactivity_timeout_minutes=minutes)
