"""The patient portal's pages: the clinic invites a patient, and a signed-in patient chooses whether their data
may train the models."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods

from audit.services import mark_target
from lesions import access
from lesions.models import Patient
from portal.forms import AiTrainingPreferenceForm, InvitationForm
from portal.invitations import invite_patient
from sharing.forms import posted, send_from_form


@login_required
@require_http_methods(["GET", "POST"])
def patient_invite(request, pk: int):
    patient = get_object_or_404(Patient.objects.visible_to(request.user).select_related("user", "clinic"), pk=pk)
    if not access.can_edit_patient(request.user, patient):
        raise PermissionDenied("Only the patient's clinic can invite them.")
    mark_target(request, patient)
    form = InvitationForm(posted(request), initial={"email": last_invited_address(patient)})
    status = 400
    if request.method == "POST" and form.is_valid():
        email = form.cleaned_data["email"]
        invitation, status = send_from_form(
            form, lambda: invite_patient(patient=patient, invited_by=request.user, email=email)
        )
        if invitation is not None:
            messages.success(request, f"{patient.full_name} is invited: an email went to {invitation.email}.")
            return redirect("home")
    context = {"patient": patient, "form": form}
    return render(request, "portal/invite_form.html", context, status=status if form.errors else 200)


def last_invited_address(patient: Patient) -> str:
    """The address the patient was last invited at (whether or not it made an account: the form must not tell)."""
    invitation = patient.invitations.first()
    if invitation is not None:
        return invitation.email
    return patient.user.email if patient.user else ""


@login_required
@require_http_methods(["GET", "POST"])
def ai_training_preference(request):
    """A signed-in patient's own choice about AI training: the one thing on their record they change themself."""
    patient = Patient.objects.filter(user=request.user).first()
    if patient is None:
        raise PermissionDenied("Only a patient signed in to their own account sets this.")
    mark_target(request, patient)
    form = AiTrainingPreferenceForm(posted(request), initial={"ai_training_opt_out": patient.ai_training_opt_out})
    if request.method == "POST" and form.is_valid():
        patient.ai_training_opt_out = form.cleaned_data["ai_training_opt_out"]
        patient.save(update_fields=["ai_training_opt_out", "updated_at"])
        choice = "will not be used" if patient.ai_training_opt_out else "may be used"
        messages.success(request, f"Saved: your photos and diagnoses {choice} to train the models.")
        return redirect("portal:ai-training")
    return render(request, "portal/ai_training.html", {"patient": patient, "form": form})
