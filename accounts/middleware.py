import time

from django.contrib import messages
from django.contrib.auth import logout

LAST_ACTIVITY_KEY = "last_activity"
# The last-activity time is written at most this often, so that not every request writes the session.
ACTIVITY_RESOLUTION_SECONDS = 60


class InactivityTimeoutMiddleware:
    """Ends a signed-in session that sat idle longer than the user's inactivity timeout (their clinics' shortest):
    a screen left signed in at a clinic desk shows patients' records to whoever passes. API tokens expire on
    their own."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.user.is_authenticated:
            now = time.time()
            last_activity = request.session.get(LAST_ACTIVITY_KEY, now)
            timeout = request.user.inactivity_timeout()
            if now - last_activity > timeout.total_seconds():
                request.signed_out_for_inactivity = True  # the user's API tokens outlive an idle browser
                logout(request)
                minutes = round(timeout.total_seconds() / 60)
                messages.info(request, f"You were signed out after {minutes} minutes without activity.")
            elif now - last_activity >= ACTIVITY_RESOLUTION_SECONDS or LAST_ACTIVITY_KEY not in request.session:
                request.session[LAST_ACTIVITY_KEY] = now
        return self.get_response(request)
