"""Signals between apps that must not import each other: accounts sends them, the audit trail records them."""

from django.dispatch import Signal

# Sent with `request` and `user` when the API hands out a token, and when a request's own token is revoked: the
# API's counterparts of Django's user_logged_in and user_logged_out (which would also revoke every token).
api_token_issued = Signal()
api_token_revoked = Signal()
