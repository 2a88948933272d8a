from django import forms
from django.core.exceptions import ValidationError

from accounts.models import Clinic
from lesions import access
from sharing.services import DEFAULT_EXPIRY_DAYS, MAX_EXPIRY_DAYS, SendLimitReached


class ShareForm(forms.Form):
    to = forms.EmailField(
        required=False, label="Send to", help_text="Leave empty to send to the family physician on file."
    )
    message = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 4}), label="Message (optional)")
    expires_in_days = forms.IntegerField(
        min_value=1, max_value=MAX_EXPIRY_DAYS, initial=DEFAULT_EXPIRY_DAYS, label="The link works for (days)"
    )
    attach_pdf = forms.BooleanField(required=False, label="Attach the PDF report")
    attach_images = forms.BooleanField(required=False, label="Attach the photos")

    ATTACHMENT_WARNING = (
        "Email is not encrypted end to end, and an attachment cannot be withdrawn once sent (the link can): "
        "attach only when the recipient needs the files themself."
    )

    def __init__(self, *args, attachments_allowed: bool, **kwargs):
        super().__init__(*args, **kwargs)
        if attachments_allowed:
            self.fields["attach_images"].help_text = self.ATTACHMENT_WARNING
        else:
            del self.fields["attach_pdf"], self.fields["attach_images"]


class ShareListFilterForm(forms.Form):
    """The share list's `?lesion=` filter: an id the database can hold, or nothing."""

    lesion = forms.IntegerField(required=False, min_value=1, max_value=2**63 - 1)


class PhotoDigestForm(forms.Form):
    clinics = forms.ModelMultipleChoiceField(
        queryset=Clinic.objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        label="Email me once a day about photos these clinics' patients sent from home",
        help_text="Only on days when photos arrived; the email names no patient.",
    )

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["clinics"].queryset = Clinic.objects.filter(pk__in=access.clinic_ids_of(user))


def posted(request):
    """The form's data when posted (an unticked checkbox alone posts nothing, yet the form is still bound)."""
    return request.POST if request.method == "POST" else None


def add_service_errors(form, error: ValidationError) -> None:
    """Show a service's refusal on the form: by field where it names one of the form's fields."""
    errors = error.message_dict if hasattr(error, "error_dict") else {None: error.messages}
    for field, field_errors in errors.items():
        form.add_error(field if field in form.fields else None, field_errors)


def send_from_form(form, send):
    """Run a service that sends email on behalf of a valid form. Answers its result and 200, or None and the status
    to answer with the refusal shown on the form: 400 for what the service refused, 429 over the hour's limit."""
    try:
        return send(), 200
    except ValidationError as error:
        add_service_errors(form, error)
        return None, 400
    except SendLimitReached as error:
        form.add_error(None, str(error))
        return None, 429
