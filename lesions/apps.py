from django.apps import AppConfig


class LesionsConfig(AppConfig):
    name = "lesions"

    def ready(self):
        from lesions import signals  # noqa: F401
