from django.contrib.auth import logout
from drf_spectacular.utils import extend_schema, inline_serializer
from knox.models import AuthToken
from rest_framework import serializers, status
from rest_framework.authtoken.serializers import AuthTokenSerializer
from rest_framework.exceptions import Throttled, ValidationError
from rest_framework.response import Response
from rest_framework.throttling import ScopedRateThrottle
from rest_framework.views import APIView

from skintrack.addresses import client_ip
from skintrack.signals import api_token_issued, api_token_revoked

LOCKED_OUT = "Too many failed sign-ins for this account or from this address; try again later, or reset your password."
TokenSerializer = inline_serializer("Token", {"token": serializers.CharField(), "expiry": serializers.DateTimeField()})


class SignInThrottle(ScopedRateThrottle):
    """DRF's throttle keyed by the client address as the audit trail and the lockout see it: DRF's own reads any
    X-Forwarded-For a client writes, so a new made-up header each time would escape the limit."""

    def get_ident(self, request) -> str:
        return client_ip(request) or ""


class ObtainToken(APIView):
    """POST {username, password} -> {"token": ..., "expiry": ...}: a new token on each call, stored only as a
    digest, that expires (REST_KNOX["TOKEN_TTL"]). Sign-ins are audited; a wrong password is recorded by the
    failed-sign-in signal, and repeated ones lock the sign-in (django-axes)."""

    # Credentials are in the body: a stale token in the header must not stand in the way of a new one.
    authentication_classes = []
    permission_classes = []
    throttle_classes = [SignInThrottle]
    throttle_scope = "login"

    @extend_schema(request=AuthTokenSerializer, responses=TokenSerializer, summary="Get an API token")
    def post(self, request):
        serializer = AuthTokenSerializer(data=request.data, context={"request": request})
        if not serializer.is_valid():
            # django-axes marks the request it was given when the sign-in is locked out.
            if getattr(request, "axes_locked_out", False):
                raise Throttled(detail=LOCKED_OUT)
            raise ValidationError(serializer.errors)
        user = serializer.validated_data["user"]
        instance, token = AuthToken.objects.create(user=user)
        api_token_issued.send(sender=self.__class__, request=request._request, user=user)
        return Response({"token": token, "expiry": instance.expiry})


class RevokeToken(APIView):
    @extend_schema(request=None, responses={204: None}, summary="Sign out: the token of this request stops working")
    def post(self, request):
        """The token that signed the request is deleted. Signed in with a session instead, the session ends, and
        with it every API token of the user (as when signing out of the pages)."""
        if isinstance(request.auth, AuthToken):
            request.auth.delete()
            api_token_revoked.send(sender=self.__class__, request=request._request, user=request.user)
        else:
            logout(request._request)
        return Response(status=status.HTTP_204_NO_CONTENT)
