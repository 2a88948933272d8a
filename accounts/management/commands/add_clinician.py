import getpass
import os

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from accounts.models import User
from accounts.services import add_clinician


class Command(BaseCommand):
    help = (
        "Create a clinician (or, with --admin, a clinic admin) and the clinic if needed. "
        "The password comes from SKINTRACK_PASSWORD, else it is asked for."
    )

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--clinic", required=True, help="the clinic's name; created if it does not exist")
        parser.add_argument("--email", required=True)
        parser.add_argument("--admin", action="store_true", help="make the user an admin of the clinic")

    def handle(self, *args, username, clinic, email, admin, **options):
        if User.objects.filter(username=username).exists():
            raise CommandError(f"A user named {username!r} already exists.")
        password = os.environ.get("SKINTRACK_PASSWORD") or self.ask_password()
        try:
            validate_password(password, User(username=username, email=email))
            membership = add_clinician(
                username=username, email=email, password=password, clinic_name=clinic, admin=admin
            )
        except ValidationError as error:
            raise CommandError(" ".join(error.messages)) from error
        self.stdout.write(
            self.style.SUCCESS(f"Created {membership.get_role_display().lower()} {username} of {membership.clinic}.")
        )

    def ask_password(self) -> str:
        password = getpass.getpass("Password: ")
        if password != getpass.getpass("Password (again): "):
            raise CommandError("The two passwords differ.")
        return password
