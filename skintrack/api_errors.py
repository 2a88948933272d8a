"""The API's answers to errors raised below the views: models and services raise Django's exceptions, which DRF
answers like its own."""

from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import views
from rest_framework.exceptions import ValidationError
from rest_framework.settings import api_settings


def exception_handler(exc, context):
    """DRF's handler (which already answers Django's PermissionDenied with 403 and its reason), and Django's
    ValidationError as 400: messages about a field under the field's name, the others under `non_field_errors`,
    as a serializer's."""
    if isinstance(exc, DjangoValidationError):
        by_field = exc.message_dict if hasattr(exc, "error_dict") else {api_settings.NON_FIELD_ERRORS_KEY: exc.messages}
        exc = ValidationError(by_field)
    return views.exception_handler(exc, context)
