import csv

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import HttpRequest, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.models import Clinic, Membership
from accounts.services import change_role, deactivate_member
from audit.models import AuditEvent
from audit.services import mark_clinic_records
from clinic.forms import ClinicAuditFilter, InvitationForm, RoleForm
from clinic.services import invite_colleague, mark_staff_change
from lesions.models import Patient

EVENTS_PER_PAGE = 50
# A spreadsheet runs a cell that starts with one of these as a formula: a user agent or a path is the client's text.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def administered_clinics(request: HttpRequest) -> QuerySet[Clinic]:
    """The clinics the signed-in user is an admin of; anyone else is refused these pages."""
    clinics = Clinic.objects.filter(memberships__user=request.user, memberships__role=Membership.Role.ADMIN)
    if not clinics.exists():
        raise PermissionDenied("Only a clinic admin manages the clinic's staff and reads its audit trail.")
    return clinics


def administered_membership(request: HttpRequest, pk: int) -> Membership:
    """A member of one of the user's clinics; another clinic's member is not found (404), which tells nothing."""
    clinics = administered_clinics(request)
    return get_object_or_404(Membership.objects.filter(clinic__in=clinics).select_related("user", "clinic"), pk=pk)


@login_required
@require_http_methods(["GET", "POST"])
def staff(request):
    """The clinic's staff with their roles, and the form that invites a colleague."""
    clinics = administered_clinics(request)
    form = InvitationForm(request.POST if request.method == "POST" else None, clinics=clinics)
    if request.method == "POST" and form.is_valid():
        clinic = form.cleaned_data["clinic"]
        try:
            membership = invite_colleague(
                clinic=clinic,
                invited_by=request.user,
                email=form.cleaned_data["email"],
                role=form.cleaned_data["role"],
            )
        except ValidationError as error:
            form.add_error(None, error)
        else:
            mark_staff_change(
                request, membership, change=f"invited as {membership.role}", action=AuditEvent.Action.CREATE
            )
            messages.success(request, f"An invitation went to {membership.user.email}.")
            return redirect("clinic:staff")
    memberships = Membership.objects.filter(clinic__in=clinics).select_related("user", "clinic")
    context = {
        "memberships": memberships.order_by("clinic__name", "-user__is_active", "user__username"),
        "form": form,
        "several_clinics": len(clinics) > 1,
    }
    return render(request, "clinic/staff.html", context, status=400 if form.errors else 200)


@login_required
@require_POST
def staff_role(request, pk: int):
    membership = administered_membership(request, pk)
    form = RoleForm(request.POST)
    try:
        if not form.is_valid():
            raise ValidationError("Choose a role the clinic has: clinic admin or clinician.")
        change_role(membership=membership, role=form.cleaned_data["role"], changed_by=request.user)
    except ValidationError as error:
        for message in error.messages:
            messages.error(request, message)
        return redirect("clinic:staff")
    mark_staff_change(request, membership, change=f"role {form.cleaned_data['role']}", action=AuditEvent.Action.CHANGE)
    role = Membership.Role(form.cleaned_data["role"]).label.lower()
    messages.success(request, f"{membership.user.display_name} is now {role}.")
    return redirect("clinic:staff")


@login_required
@require_http_methods(["GET", "POST"])
def staff_deactivate(request, pk: int):
    """Asks for confirmation (GET), then deactivates the account (POST)."""
    membership = administered_membership(request, pk)
    error = None
    if request.method == "POST":
        try:
            deactivate_member(membership=membership, deactivated_by=request.user)
        except ValidationError as refusal:
            error = " ".join(refusal.messages)
        else:
            mark_staff_change(request, membership, change="deactivated", action=AuditEvent.Action.CHANGE)
            messages.success(request, f"{membership.user.display_name} can no longer sign in; their sessions ended.")
            return redirect("clinic:staff")
    context = {"membership": membership, "error": error}
    return render(request, "clinic/deactivate.html", context, status=400 if error else 200)


def filtered_events(request: HttpRequest, clinics: QuerySet[Clinic]) -> ClinicAuditFilter:
    events = AuditEvent.objects.filter(clinic_id__in=clinics.values("pk")).prefetch_related("patients")
    return ClinicAuditFilter(request.GET, queryset=events, clinics=clinics)


@login_required
@require_GET
def audit(request):
    """The audit trail of the admin's clinics, newest first, filtered and paginated."""
    clinics = administered_clinics(request)
    mark_clinic_records(request, clinic_ids=clinics.values_list("pk", flat=True), description="audit trail")
    events = filtered_events(request, clinics)
    if not events.is_valid():
        return render(request, "clinic/audit.html", {"filter": events, "page": None}, status=400)
    page = Paginator(events.qs, EVENTS_PER_PAGE).get_page(request.GET.get("page"))
    name_patients(page, clinics=clinics)
    return render(request, "clinic/audit.html", {"filter": events, "page": page})


def name_patients(events, *, clinics: QuerySet[Clinic]) -> None:
    """Gives each event `patient_names`: the patients it concerns, by name where they are still on record."""
    ids_by_event = {
        event.pk: [event.patient_id] if event.patient_id else [shown.patient_id for shown in event.patients.all()]
        for event in events
    }
    every_id = {patient_id for ids in ids_by_event.values() for patient_id in ids}
    patients = Patient.objects.filter(clinic__in=clinics, pk__in=every_id).in_bulk()
    for event in events:
        event.patient_names = [str(patients.get(pid, f"patient {pid} (deleted)")) for pid in ids_by_event[event.pk]]


@login_required
@require_GET
def audit_export(request):
    """The audit page's events, with its filters, as CSV: all of them, not one page."""
    clinics = administered_clinics(request)
    mark_clinic_records(
        request,
        clinic_ids=clinics.values_list("pk", flat=True),
        description="audit trail",
        action=AuditEvent.Action.EXPORT,
    )
    events = filtered_events(request, clinics)
    if not events.is_valid():
        return render(request, "clinic/audit.html", {"filter": events, "page": None}, status=400)
    response = StreamingHttpResponse(csv_lines(events.qs.iterator(chunk_size=500)), content_type="text/csv")
    response["Content-Disposition"] = f'attachment; filename="audit-trail-{timezone.localdate():%Y-%m-%d}.csv"'
    return response


CSV_HEADER = (
    "time",
    "user",
    "action",
    "patient",
    "patients shown",
    "target",
    "method",
    "path",
    "status",
    "address",
    "browser",
)


class Echo:
    """The file csv.writer writes to, handing each line back for the streaming answer."""

    def write(self, value: str) -> str:
        return value


def csv_lines(events):
    writer = csv.writer(Echo())
    yield writer.writerow(CSV_HEADER)
    for event in events:
        row = (
            event.occurred_at.isoformat(),
            event.actor_username,
            event.action,
            event.patient_id or "",
            " ".join(str(shown.patient_id) for shown in event.patients.all()),
            event.target,
            event.method,
            event.path,
            event.status_code or "",
            event.ip_address or "",
            event.user_agent,
        )
        yield writer.writerow([spreadsheet_safe(value) for value in row])


def spreadsheet_safe(value):
    """The value, with text a spreadsheet would run as a formula quoted as plain text."""
    return f"'{value}" if isinstance(value, str) and value.startswith(FORMULA_STARTS) else value
