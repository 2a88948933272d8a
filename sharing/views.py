"""Share-link pages (no sign-in: the signed link is the key, and every request through it is logged) and the
signed-in pages for sharing, revoking and choosing the photo digest (the patient portal's pages are portal.views)."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from audit.models import AuditEvent
from audit.services import mark_list_read, mark_target, mark_unmatched
from lesions import access
from lesions.models import Lesion
from lesions.presenters import stored_file_response
from lesions.reports import report_response
from sharing.forms import PhotoDigestForm, ShareForm, ShareListFilterForm, posted, send_from_form
from sharing.links import share_for_token
from sharing.models import Share, ShareOpening
from sharing.services import record_opening, revoke_share, share_lesion
from skintrack.addresses import client_ip

# A share link is a key: keep it out of caches, search engines and the Referer sent to other sites.
LINK_HEADERS = {"Cache-Control": "no-store, private", "Referrer-Policy": "no-referrer", "X-Robots-Tag": "noindex"}


def shared_answer(request, token: str, resource: str, serve):
    """Answer with `serve(share)` if the link is live, 410 if it was revoked or has expired, 404 if it was tampered
    with or names nothing; log every such request, with the answer it actually got."""
    share = share_for_token(token)
    if share is None:
        mark_unmatched(request, description="share link matching no share", action=AuditEvent.Action.OPEN_SHARE)
        raise Http404("There is no such link.")
    mark_target(request, share, action=AuditEvent.Action.OPEN_SHARE)

    def log_opening(*, found: bool = True):
        user_agent = request.META.get("HTTP_USER_AGENT", "")
        record_opening(
            share=share, resource=resource, ip_address=client_ip(request), user_agent=user_agent, found=found
        )

    if share.state != "active":
        log_opening()
        response = render(request, "sharing/gone.html", {"share": share}, status=410)
    else:
        try:
            response = serve(share)
        except Http404:
            log_opening(found=False)
            raise
        log_opening()
    for header, value in LINK_HEADERS.items():
        response[header] = value
    return response


@require_GET
def shared_lesion(request, token: str):
    def page(share: Share):
        context = {"share": share, "summary": share.summary(), "token": token}
        return render(request, "sharing/shared_lesion.html", context)

    return shared_answer(request, token, ShareOpening.Resource.PAGE, page)


@require_GET
def shared_image(request, token: str, image_pk: int):
    def image_file(share: Share):
        return stored_file_response(get_object_or_404(share.images, pk=image_pk).image)

    return shared_answer(request, token, ShareOpening.Resource.IMAGE, image_file)


@require_GET
def shared_report(request, token: str):
    return shared_answer(request, token, ShareOpening.Resource.REPORT, lambda share: report_response(share.summary()))


def visible_lesion(request, pk: int) -> Lesion:
    return get_object_or_404(Lesion.objects.visible_to(request.user).select_related("patient__clinic"), pk=pk)


@login_required
@require_http_methods(["GET", "POST"])
def lesion_share(request, pk: int):
    lesion = visible_lesion(request, pk)
    mark_target(request, lesion, action=AuditEvent.Action.SHARE if request.method == "POST" else None)
    form = ShareForm(posted(request), attachments_allowed=lesion.patient.clinic.allow_email_attachments)
    status = 400
    if request.method == "POST" and form.is_valid():
        share, status = send_from_form(
            form, lambda: share_lesion(lesion=lesion, shared_by=request.user, **form.cleaned_data)
        )
        if share is not None:
            messages.success(request, f"The lesion is being sent to {share.recipient_email}.")
            return redirect("sharing:shares")
    context = {"lesion": lesion, "patient": lesion.patient, "form": form}
    return render(request, "sharing/share_form.html", context, status=status if form.errors else 200)


@login_required
@require_GET
def share_list(request):
    shares = (
        Share.objects.visible_to(request.user)
        .with_opening_stats()
        .select_related("lesion__patient", "created_by")
        .prefetch_related("openings")
    )
    filters = ShareListFilterForm(request.GET)
    if not filters.is_valid():
        return render(request, "sharing/share_list.html", {"shares": shares.none()}, status=400)
    if filters.cleaned_data["lesion"] is not None:
        shares = shares.filter(lesion_id=filters.cleaned_data["lesion"])
    shown = list(shares[:200])
    mark_list_read(request, shown, description="share list")
    return render(request, "sharing/share_list.html", {"shares": shown})


@login_required
@require_POST
def share_revoke(request, pk: int):
    share = get_object_or_404(Share.objects.visible_to(request.user), pk=pk)
    mark_target(request, share, action=AuditEvent.Action.CHANGE)
    revoke_share(share=share, revoked_by=request.user)
    messages.success(request, f"The link sent to {share.recipient_email} no longer opens.")
    return redirect("sharing:shares")


@login_required
@require_http_methods(["GET", "POST"])
def notifications(request):
    """A clinic member's own choice of the daily photo digest, per clinic."""
    if not access.is_clinic_member(request.user):
        raise PermissionDenied("Only clinic members receive the photo digest.")
    memberships = request.user.memberships.all()
    opted_in = [membership.clinic_id for membership in memberships if membership.photo_digest]
    form = PhotoDigestForm(posted(request), user=request.user, initial={"clinics": opted_in})
    if request.method == "POST" and form.is_valid():
        chosen = {clinic.pk for clinic in form.cleaned_data["clinics"]}
        memberships.filter(clinic_id__in=chosen).update(photo_digest=True)
        memberships.exclude(clinic_id__in=chosen).update(photo_digest=False)
        messages.success(request, "Saved." if chosen else "Saved: you get no photo digest.")
        return redirect("sharing:notifications")
    return render(request, "sharing/notifications.html", {"form": form})
