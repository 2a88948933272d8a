from rest_framework.authtoken.models import Token
from rest_framework.authtoken.views import ObtainAuthToken
from rest_framework.response import Response
from rest_framework.throttling import ScopedRateThrottle

from audit.models import AuditEvent
from audit.services import record_event


class ObtainToken(ObtainAuthToken):
    """POST {username, password} -> {"token": ...}. Sign-ins are audited; a wrong password is recorded by the
    failed-sign-in signal, and repeated ones lock the username/IP pair (django-axes)."""

    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "login"

    def post(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        user = serializer.validated_data["user"]
        token, _ = Token.objects.get_or_create(user=user)
        record_event(request=request._request, user=user, action=AuditEvent.Action.LOGIN, status_code=200)
        return Response({"token": token.key})
