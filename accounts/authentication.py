from drf_spectacular.contrib.knox_auth_token import KnoxTokenScheme
from knox.auth import TokenAuthentication
from rest_framework.exceptions import AuthenticationFailed


class ApiTokenAuthentication(TokenAuthentication):
    """django-rest-knox's tokens: kept as SHA-512 digests, expiring after REST_KNOX["TOKEN_TTL"], refused for an
    inactive user. A token that is not even UTF-8 text is an invalid token (401), not a server error."""

    def authenticate_credentials(self, token: bytes):
        try:
            token.decode("utf-8")
        except UnicodeDecodeError as error:
            raise AuthenticationFailed("Invalid token.") from error
        return super().authenticate_credentials(token)


class ApiTokenScheme(KnoxTokenScheme):
    """Describes the tokens in the OpenAPI schema as knox's: an `Authorization: Token ...` header."""

    target_class = ApiTokenAuthentication
