import hashlib

from django.conf import settings
from django.contrib.auth import views as auth_views

from accounts.lockout import take_allowance
from skintrack.addresses import client_ip

RESET_WINDOW_SECONDS = 60 * 60
TOO_MANY_RESETS = (
    "Too many password-reset emails were asked for from here or for this address in the last hour. Check your inbox "
    "(and spam folder) for the link already sent, or try again in an hour."
)


class PasswordResetView(auth_views.PasswordResetView):
    """Django's reset form, with a bound on the emails it sends per address typed (whether or not an account has
    it, so the limit tells nothing about who has one) and per client address, so it cannot flood an inbox."""

    def form_valid(self, form):
        email_digest = hashlib.sha256(form.cleaned_data["email"].strip().lower().encode()).hexdigest()
        address = client_ip(self.request)
        allowances = (
            (f"password-reset:email:{email_digest}", settings.SKINTRACK_PASSWORD_RESETS_PER_EMAIL_PER_HOUR),
            (f"password-reset:address:{address}", settings.SKINTRACK_PASSWORD_RESETS_PER_ADDRESS_PER_HOUR),
        )
        if not all(take_allowance(key, limit=limit, window_seconds=RESET_WINDOW_SECONDS) for key, limit in allowances):
            form.add_error(None, TOO_MANY_RESETS)
            return self.render_to_response(self.get_context_data(form=form), status=429)
        return super().form_valid(form)
