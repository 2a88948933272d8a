from django.apps import AppConfig


class PortalConfig(AppConfig):
    name = "portal"
    verbose_name = "Patient portal: invitations, AI-training choice and follow-up reminders"
