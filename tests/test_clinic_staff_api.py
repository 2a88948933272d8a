"""The staff API (/api/clinic/staff/): the staff page's operations for API clients, in the OpenAPI schema."""

import pytest
from django.core import mail

from accounts.models import User
from audit.models import AuditEvent
from portal.tasks import send_invitation_email_task
from tests.conftest import api_client
from tests.factories import MembershipFactory

pytestmark = pytest.mark.django_db

STAFF = "/api/clinic/staff/"


def test_the_admin_lists_their_clinics_staff_only(people):
    answer = api_client(people.admin_a).get(STAFF)
    assert answer.status_code == 200
    rows = {row["username"]: row for row in answer.json()["results"]}
    assert set(rows) == {people.admin_a.username, people.clinician_a.username}
    assert rows[people.clinician_a.username]["role"] == "clinician"
    assert rows[people.clinician_a.username]["is_active"] is True


def test_an_admin_invites_a_colleague_who_gets_the_email(people):
    answer = api_client(people.admin_a).post(STAFF, {"email": "lea.martin@example.net", "role": "admin"})
    assert answer.status_code == 201, answer.content
    assert (answer.json()["has_password"], answer.json()["role"]) == (False, "admin")
    invitee = User.objects.get(email="lea.martin@example.net")
    send_invitation_email_task.apply(args=[invitee.pk])
    [message] = mail.outbox
    assert message.to == [invitee.email] and "/accounts/password/reset/" in message.body
    event = AuditEvent.objects.get(target=f"user {invitee.pk} invited as admin")
    assert (event.action, event.clinic_id) == ("create", people.clinic_a.pk)


def test_bad_input_is_answered_400_by_field(people):
    client = api_client(people.admin_a)
    assert client.post(STAFF, {"email": "nope", "role": "clinician"}).json() == {
        "email": ["Enter a valid email address."]
    }
    taken = client.post(STAFF, {"email": people.clinician_a.email})
    assert taken.status_code == 400 and "already a member" in taken.json()["email"][0]
    elsewhere = client.post(STAFF, {"email": "x@example.net", "clinic": people.clinic_b.pk})
    assert elsewhere.json() == {"clinic": ["You are not an admin of this clinic."]}
    MembershipFactory(user=people.admin_a, clinic=people.clinic_b, role="admin")
    unnamed = client.post(STAFF, {"email": "x@example.net"})
    assert unnamed.json() == {"clinic": ["Name the clinic: you are an admin of several."]}
    assert not User.objects.filter(email="x@example.net").exists()


def test_role_change_and_the_last_admin_rule(people):
    client = api_client(people.admin_a)
    own = people.admin_a.memberships.get()
    refused = client.patch(f"{STAFF}{own.pk}/", {"role": "clinician"}, format="json")
    assert refused.status_code == 400
    last_admin = "You are the last admin of Clinic A: make another member an admin first."
    assert refused.json() == {"non_field_errors": [last_admin]}
    clinician = people.clinician_a.memberships.get()
    promoted = client.patch(f"{STAFF}{clinician.pk}/", {"role": "admin"}, format="json")
    assert promoted.status_code == 200 and promoted.json()["role"] == "admin"
    assert client.patch(f"{STAFF}{own.pk}/", {"role": "clinician"}, format="json").status_code == 200


def test_deactivation_ends_the_members_tokens(people):
    member_client = api_client(people.clinician_a)
    clinician = people.clinician_a.memberships.get()
    answer = api_client(people.admin_a).post(f"{STAFF}{clinician.pk}/deactivate/")
    assert answer.status_code == 200 and answer.json()["is_active"] is False
    assert member_client.get("/api/patients/").status_code == 401
    again = api_client(people.admin_a).post(f"{STAFF}{clinician.pk}/deactivate/")
    assert again.status_code == 400 and "already deactivated" in again.json()["non_field_errors"][0]


def test_another_clinics_admin_finds_nothing(people):
    admin_b = MembershipFactory(clinic=people.clinic_b, role="admin").user
    clinician = people.clinician_a.memberships.get()
    client = api_client(admin_b)
    assert client.get(f"{STAFF}{clinician.pk}/").status_code == 404
    assert client.patch(f"{STAFF}{clinician.pk}/", {"role": "admin"}, format="json").status_code == 404
    assert client.post(f"{STAFF}{clinician.pk}/deactivate/").status_code == 404
    people.clinician_a.refresh_from_db()
    assert people.clinician_a.is_active


def test_the_staff_operations_are_in_the_schema(people):
    paths = api_client(people.admin_a).get("/api/schema/", HTTP_ACCEPT="application/json").json()["paths"]
    assert set(paths[STAFF]) >= {"get", "post"}
    assert set(paths[STAFF + "{id}/"]) >= {"get", "patch"}
    assert "post" in paths[STAFF + "{id}/deactivate/"]
