from django.contrib.auth.signals import user_logged_out
from django.dispatch import receiver


@receiver(user_logged_out)
def revoke_api_tokens_on_sign_out(sender, request, user, **kwargs):
    """Signing out of the pages signs the user out of the API too (not an idle session that timed out)."""
    if user is not None and not getattr(request, "signed_out_for_inactivity", False):
        user.revoke_api_tokens()
