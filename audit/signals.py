from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.dispatch import receiver

from audit import services
from audit.models import AuditEvent
from audit.services import record_event
from skintrack.signals import api_token_issued, api_token_revoked


@receiver(user_logged_in)
def record_sign_in(sender, request, user, **kwargs):
    record_event(request=request, user=user, action=AuditEvent.Action.LOGIN)


@receiver(user_logged_out)
def record_sign_out(sender, request, user, **kwargs):
    if user is not None:
        record_event(request=request, user=user, action=AuditEvent.Action.LOGOUT)


@receiver(user_login_failed)
def record_failed_sign_in(sender, credentials, request=None, **kwargs):
    services.record_failed_sign_in(
        request=getattr(request, "_request", request), username=credentials.get("username", "")
    )


@receiver(api_token_issued)
def record_api_sign_in(sender, request, user, **kwargs):
    record_event(request=request, user=user, action=AuditEvent.Action.LOGIN, status_code=200)


@receiver(api_token_revoked)
def record_api_sign_out(sender, request, user, **kwargs):
    record_event(request=request, user=user, action=AuditEvent.Action.LOGOUT, status_code=204)
