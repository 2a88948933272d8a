"""A clinic admin's staff page: inviting a colleague (who chooses their own password), changing a role,
deactivating an account (its tokens and sessions end at once), and the clinic never left without an admin."""

import re

import pytest
from django.contrib.sessions.models import Session
from django.core import mail
from django.test import Client
from django.urls import reverse

from accounts.models import Membership, User
from audit.models import AuditEvent
from portal.tasks import send_invitation_email_task
from tests.conftest import api_client
from tests.factories import PASSWORD, MembershipFactory

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "a-fresh-passphrase-41"


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def membership_of(user) -> Membership:
    return user.memberships.get()


def sessions_of(user) -> list[Session]:
    return [session for session in Session.objects.all() if session.get_decoded().get("_auth_user_id") == str(user.pk)]


def invite(client, email="lea.martin@example.net", role="clinician", **extra):
    return client.post(reverse("clinic:staff"), {"email": email, "role": role, **extra})


def test_the_staff_page_lists_the_clinics_members_with_their_roles_and_the_nav_links_it_for_admins(people):
    page = client_for(people.admin_a).get(reverse("clinic:staff")).content.decode()
    assert people.clinician_a.email in page and people.admin_a.email in page
    assert people.clinician_b.email not in page and people.patient_a_user.email not in page
    assert 'value="admin" selected' in page and 'value="clinician" selected' in page
    assert reverse("clinic:staff") in page and reverse("clinic:audit") in page
    clinician_page = client_for(people.clinician_a).get(reverse("home")).content.decode()
    assert reverse("clinic:staff") not in clinician_page and reverse("clinic:audit") not in clinician_page


def test_an_invited_colleague_chooses_a_password_and_signs_in(people, django_capture_on_commit_callbacks):
    admin = client_for(people.admin_a)
    with django_capture_on_commit_callbacks(execute=False) as queued:
        answer = invite(admin, email="Lea.Martin@Example.NET")
    assert answer.status_code == 302 and answer.url == reverse("clinic:staff")
    assert len(queued) == 1
    user = User.objects.get(email="Lea.Martin@example.net")
    assert (user.username, user.has_usable_password(), user.is_active) == ("Lea.Martin@example.net", False, True)
    assert membership_of(user).clinic == people.clinic_a and membership_of(user).role == "clinician"
    assert "Invited, no password chosen yet" in admin.get(reverse("clinic:staff")).content.decode()
    invited = AuditEvent.objects.get(action="create", target=f"user {user.pk} invited as clinician")
    assert (invited.actor, invited.clinic_id) == (people.admin_a, people.clinic_a.pk)

    send_invitation_email_task.apply(args=[user.pk])
    [message] = mail.outbox
    assert message.to == [user.email]
    assert message.subject == "Clinic A invites you to SkinTrack"
    assert "as clinician" in message.body and user.username in message.body
    link = re.search(r"https?://[^/\s]+(/accounts/password/reset/\S+)", message.body).group(1)
    colleague = Client()
    form = colleague.get(link, follow=True)
    chosen = colleague.post(form.redirect_chain[-1][0], {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})
    assert chosen.status_code == 302
    signed_in = colleague.post(reverse("login"), {"username": user.username, "password": NEW_PASSWORD})
    assert signed_in.status_code == 302
    assert colleague.get(reverse("patient", args=[people.patient_a.pk])).status_code == 200
    assert colleague.get(reverse("clinic:staff")).status_code == 403  # a clinician, not an admin


def test_an_invitation_with_bad_input_says_why_and_creates_nothing(people):
    admin = client_for(people.admin_a)
    users_before = User.objects.count()
    for email, role, message in (
        ("not-an-address", "clinician", "Enter a valid email address."),
        ("", "clinician", "This field is required."),
        ("someone@example.net", "owner", "Select a valid choice."),
        (people.clinician_a.email, "clinician", "is already a member of Clinic A"),
        (people.clinician_b.email.upper(), "clinician", "already has a SkinTrack account"),
    ):
        answer = invite(admin, email=email, role=role)
        assert answer.status_code == 400, email
        assert message in answer.content.decode(), email
    assert User.objects.count() == users_before
    assert mail.outbox == []


def test_an_admin_of_several_clinics_chooses_which_one_and_only_among_theirs(people):
    MembershipFactory(user=people.admin_a, clinic=people.clinic_b, role="admin")
    admin = client_for(people.admin_a)
    assert invite(admin, clinic=people.clinic_b.pk).status_code == 302
    assert membership_of(User.objects.get(email="lea.martin@example.net")).clinic == people.clinic_b
    other = MembershipFactory(role="admin").clinic
    refused = invite(admin, email="other@example.net", clinic=other.pk)
    assert refused.status_code == 400 and "Select a valid choice" in refused.content.decode()


def test_an_admin_changes_a_role_and_the_change_is_audited(people):
    admin = client_for(people.admin_a)
    clinician = membership_of(people.clinician_a)
    answer = admin.post(reverse("clinic:staff-role", args=[clinician.pk]), {"role": "admin"})
    assert answer.status_code == 302
    clinician.refresh_from_db()
    assert clinician.role == "admin"
    event = AuditEvent.objects.get(target=f"user {people.clinician_a.pk} role admin")
    assert (event.action, event.actor, event.clinic_id) == ("change", people.admin_a, people.clinic_a.pk)
    assert client_for(people.clinician_a).get(reverse("clinic:staff")).status_code == 200


def test_the_last_admin_can_neither_demote_nor_deactivate_themselves(people):
    admin = client_for(people.admin_a)
    own = membership_of(people.admin_a)
    demoted = admin.post(reverse("clinic:staff-role", args=[own.pk]), {"role": "clinician"}, follow=True)
    assert "You are the last admin of Clinic A" in demoted.content.decode()
    deactivated = admin.post(reverse("clinic:staff-deactivate", args=[own.pk]))
    assert deactivated.status_code == 400 and "You are the last admin of Clinic A" in deactivated.content.decode()
    own.refresh_from_db()
    people.admin_a.refresh_from_db()
    assert own.role == "admin" and people.admin_a.is_active

    # With a second admin, either may step down; the remaining one then cannot.
    second = MembershipFactory(clinic=people.clinic_a, role="admin")
    assert admin.post(reverse("clinic:staff-role", args=[own.pk]), {"role": "clinician"}).status_code == 302
    own.refresh_from_db()
    assert own.role == "clinician"
    alone = client_for(second.user).post(reverse("clinic:staff-deactivate", args=[second.pk]))
    assert alone.status_code == 400


def test_a_deactivated_admin_does_not_count_as_the_remaining_admin(people):
    second = MembershipFactory(clinic=people.clinic_a, role="admin")
    admin = client_for(people.admin_a)
    assert admin.post(reverse("clinic:staff-deactivate", args=[second.pk])).status_code == 302
    own = membership_of(people.admin_a)
    refused = admin.post(reverse("clinic:staff-role", args=[own.pk]), {"role": "clinician"}, follow=True)
    assert "You are the last admin" in refused.content.decode()


def test_deactivation_asks_first_then_ends_the_accounts_tokens_and_sessions_at_once(people):
    clinician = membership_of(people.clinician_a)
    token_client = api_client(people.clinician_a)
    assert token_client.get("/api/patients/").status_code == 200
    browser = Client()
    assert browser.post(reverse("login"), {"username": people.clinician_a.username, "password": PASSWORD}).status_code
    assert browser.get(reverse("home")).status_code == 200
    admin = client_for(people.admin_a)  # another user's session, which survives
    assert len(sessions_of(people.clinician_a)) == 1
    confirm = admin.get(reverse("clinic:staff-deactivate", args=[clinician.pk]))
    assert confirm.status_code == 200 and "Deactivate the account" in confirm.content.decode()
    people.clinician_a.refresh_from_db()
    assert people.clinician_a.is_active  # asking is not doing
    assert admin.post(reverse("clinic:staff-deactivate", args=[clinician.pk])).status_code == 302

    people.clinician_a.refresh_from_db()
    assert not people.clinician_a.is_active
    assert token_client.get("/api/patients/").status_code == 401
    assert people.clinician_a.auth_token_set.count() == 0
    assert sessions_of(people.clinician_a) == []
    assert browser.get(reverse("home")).url.startswith(reverse("login"))
    assert admin.get(reverse("home")).status_code == 200
    signed_in = Client().post(reverse("login"), {"username": people.clinician_a.username, "password": PASSWORD})
    assert signed_in.status_code == 200  # the form again: the account no longer signs in
    event = AuditEvent.objects.get(target=f"user {people.clinician_a.pk} deactivated")
    assert (event.actor, event.clinic_id) == (people.admin_a, people.clinic_a.pk)
    assert "Deactivated" in admin.get(reverse("clinic:staff")).content.decode()


def test_an_account_used_by_another_clinic_is_not_deactivated_by_one(people):
    MembershipFactory(user=people.clinician_a, clinic=people.clinic_b)
    clinician = people.clinician_a.memberships.get(clinic=people.clinic_a)
    answer = client_for(people.admin_a).post(reverse("clinic:staff-deactivate", args=[clinician.pk]))
    assert answer.status_code == 400 and "also used outside Clinic A" in answer.content.decode()
    people.clinician_a.refresh_from_db()
    assert people.clinician_a.is_active


def test_an_admin_of_another_clinic_finds_none_of_this_clinics_members(people):
    admin_b = MembershipFactory(clinic=people.clinic_b, role="admin").user
    clinician = membership_of(people.clinician_a)
    client = client_for(admin_b)
    assert client.get(reverse("clinic:staff-deactivate", args=[clinician.pk])).status_code == 404
    assert client.post(reverse("clinic:staff-deactivate", args=[clinician.pk])).status_code == 404
    assert client.post(reverse("clinic:staff-role", args=[clinician.pk]), {"role": "admin"}).status_code == 404
    assert people.clinician_a.email not in client.get(reverse("clinic:staff")).content.decode()
    people.clinician_a.refresh_from_db()
    assert people.clinician_a.is_active and membership_of(people.clinician_a).role == "clinician"


def test_a_deactivated_invitee_gets_no_invitation_email(people):
    assert invite(client_for(people.admin_a)).status_code == 302
    invitee = User.objects.get(email="lea.martin@example.net")
    client_for(people.admin_a).post(reverse("clinic:staff-deactivate", args=[membership_of(invitee).pk]))
    send_invitation_email_task.apply(args=[invitee.pk])
    assert mail.outbox == []
