import django_filters
from django import forms
from django.db.models import Q

from accounts.models import Membership, User
from audit.models import AuditEvent
from lesions.models import Patient

DAY = forms.DateInput(attrs={"type": "date"})
ROLE_HELP = "A clinic admin also manages the clinic's staff and reads its audit trail."


class InvitationForm(forms.Form):
    email = forms.EmailField(label="Your colleague's email address", max_length=150)
    role = forms.ChoiceField(choices=Membership.Role.choices, initial=Membership.Role.CLINICIAN, help_text=ROLE_HELP)
    clinic = forms.ModelChoiceField(queryset=None, empty_label=None)

    def __init__(self, *args, clinics, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["clinic"].queryset = clinics
        self.only_clinic = clinics[0] if len(clinics) == 1 else None
        if self.only_clinic is not None:
            self.fields["clinic"].required = False
            self.fields["clinic"].widget = forms.HiddenInput()

    def clean_clinic(self):
        return self.cleaned_data["clinic"] or self.only_clinic


class RoleForm(forms.Form):
    role = forms.ChoiceField(choices=Membership.Role.choices)


class ClinicAuditFilter(django_filters.FilterSet):
    """The audit page's filters (and its CSV export's): whole days for the time range, and the admin's own clinics'
    people and patients to choose from."""

    patient = django_filters.ModelChoiceFilter(
        queryset=Patient.objects.none(), method="filter_patient", label="Patient", empty_label="Any patient"
    )
    actor = django_filters.ModelChoiceFilter(queryset=User.objects.none(), label="User", empty_label="Anyone")
    action = django_filters.ChoiceFilter(choices=AuditEvent.Action.choices, empty_label="Any action")
    since = django_filters.DateFilter(field_name="occurred_at", lookup_expr="date__gte", label="From (day)", widget=DAY)
    until = django_filters.DateFilter(
        field_name="occurred_at", lookup_expr="date__lte", label="Until (day, included)", widget=DAY
    )

    class Meta:
        model = AuditEvent
        fields = ["patient", "actor", "action", "since", "until"]

    def __init__(self, *args, clinics, **kwargs):
        super().__init__(*args, **kwargs)
        people = Q(memberships__clinic__in=clinics) | Q(patient_record__clinic__in=clinics)
        self.filters["actor"].queryset = User.objects.filter(people).distinct().order_by("username")
        self.filters["patient"].queryset = Patient.objects.filter(clinic__in=clinics).order_by(
            "last_name", "first_name", "pk"
        )

    def filter_patient(self, events, name, value):
        return events.about_patient(value.pk)
