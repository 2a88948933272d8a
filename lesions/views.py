"""The clinic's pages. Every object comes through the same visibility querysets as the API, so another clinic's
objects answer 404 here too; only the patient's clinic may change anything (patients read their own record)."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db.models import Count, Max, Q
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.models import Clinic
from audit.models import AuditEvent
from audit.services import mark_list_read, mark_target
from inference.analysis.change import CHANGE_RULE
from inference.analysis.change_record import changed_flag_record
from inference.serving.labels import CLASSES
from lesions import access, presenters, triage
from lesions.charts import Sample, timeline_chart
from lesions.forms import (
    ClinicDermatoscopeForm,
    ComparisonForm,
    ConfirmedDiagnosisForm,
    LesionDetailsForm,
    LesionForm,
    LesionStatusForm,
    PatientDetailsForm,
    PatientForm,
    PhotoCorrectionForm,
    PhotoForm,
    PhotoReviewForm,
    PhotoScaleForm,
)
from lesions.models import RESTORABLE_FOR, ConfirmedDiagnosis, Lesion, LesionImage, Patient
from lesions.presenters import images_with_predictions
from lesions.release import AWAITING_REVIEW, ResultViewer
from lesions.reports import report_response
from lesions.services import (
    acknowledge_change,
    add_lesion_image,
    change_lesion_status,
    classify_held_back_photo,
    confirm_diagnosis,
    correct_photo,
    delete_lesion,
    delete_photo,
    restorable_for,
    restore_lesion,
    restore_photo,
    review_photo,
    set_dermatoscope_field_of_view,
    set_photo_scale,
    update_lesion,
    update_patient,
)
from lesions.summary import summarise_lesion
from lesions.triage import latest_change, lesions_needing_attention, review_queue_counts, with_recent_images

PATIENTS_PER_PAGE = 50
QUEUE_ITEMS_PER_PAGE = 25


def is_htmx(request) -> bool:
    return request.headers.get("HX-Request") == "true"


@login_required
@require_GET
def home(request):
    user = request.user
    own_record = getattr(user, "patient_record", None)
    if own_record is not None and not access.is_clinic_member(user):
        return redirect("patient", pk=own_record.pk)
    query = request.GET.get("q", "").strip()
    # Aggregates across relations bypass the default managers: deleted lesions and photos are left out by hand.
    live_lesion = Q(lesions__deleted_at__isnull=True)
    patients = (
        Patient.objects.visible_to(user)
        .annotate(
            lesion_count=Count("lesions", filter=live_lesion, distinct=True),
            last_photo=Max(
                "lesions__images__captured_at", filter=live_lesion & Q(lesions__images__deleted_at__isnull=True)
            ),
        )
        .order_by("last_name", "first_name", "id")
    )
    if query:
        patients = patients.filter(
            Q(first_name__icontains=query) | Q(last_name__icontains=query) | Q(medical_record_number__icontains=query)
        )
    page = Paginator(patients, PATIENTS_PER_PAGE).get_page(request.GET.get("page"))
    attention = lesions_needing_attention(user)
    shown_attention = attention[: triage.ATTENTION_LIMIT]
    mark_list_read(
        request, [*page.object_list, *shown_attention], description="patient search" if query else "dashboard"
    )
    return render(
        request,
        "lesions/home.html",
        {
            "page": page,
            "query": query,
            # The dashboard lists the first ATTENTION_LIMIT and says how many there are in all.
            "attention": shown_attention,
            "attention_total": len(attention),
            "threshold": triage.ATTENTION_MALIGNANCY,
            "queue": review_queue_counts(user),
            "is_clinic_admin": access.is_clinic_admin(user),
        },
    )


@login_required
@require_GET
def review_queue(request):
    """The clinic's photos waiting for a person, oldest first: new photos to review and flagged changes."""
    if not access.is_clinic_member(request.user):
        raise PermissionDenied("Only clinic members have a review queue.")
    waiting = images_with_predictions(access.images_reviewable_by(request.user).in_review_queue())
    page = Paginator(waiting, QUEUE_ITEMS_PER_PAGE).get_page(request.GET.get("page"))
    images = ResultViewer(request.user).mark(page.object_list)
    mark_list_read(request, images, description="review queue")
    for image in images:
        image.review_form = PhotoReviewForm.for_image(image)
    context = {
        "page": page,
        "images": images,
        "counts": review_queue_counts(request.user),
        "classes": CLASSES,
        "review_next": request.get_full_path(),
    }
    return render(request, "lesions/review_queue.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def patient_new(request):
    if not access.is_clinic_member(request.user):
        raise PermissionDenied("Only clinic members can register patients.")
    form = PatientForm(request.POST or None, user=request.user)
    if request.method == "POST" and form.is_valid():
        patient = form.save()
        mark_target(request, patient)
        messages.success(request, f"{patient.full_name} was added.")
        return redirect("patient", pk=patient.pk)
    return render(request, "lesions/patient_form.html", {"form": form}, status=400 if form.errors else 200)


@login_required
@require_http_methods(["GET", "POST"])
def patient_detail(request, pk: int):
    patient = get_object_or_404(Patient.objects.visible_to(request.user).select_related("clinic"), pk=pk)
    mark_target(request, patient)
    editable = access.can_edit_patient(request.user, patient)
    form = LesionForm(request.POST or None) if editable else None
    if request.method == "POST":
        if not editable:
            raise PermissionDenied("Only the patient's clinic can add lesions.")
        if form.is_valid():
            lesion = form.save(commit=False)
            lesion.patient = patient
            lesion.save()
            messages.success(request, f"{lesion} was added. Add its first photo below.")
            return redirect("lesion", pk=lesion.pk)
    lesions = list(with_recent_images(patient.lesions.all(), 2))
    viewer = ResultViewer(request.user)
    for lesion in lesions:
        viewer.mark(lesion.recent_images)
        lesion.latest_image = lesion.recent_images[0] if lesion.recent_images else None
        lesion.change = latest_change(lesion)
        triage.mark_overdue(lesion)
    return render(
        request,
        "lesions/patient.html",
        {"patient": patient, "lesions": lesions, "form": form, "editable": editable},
        status=400 if form is not None and form.errors else 200,
    )


def visible_lesion(request, pk: int) -> Lesion:
    """The lesion, if the user may see it, marked for the audit trail as what this request touched."""
    lesion = get_object_or_404(Lesion.objects.visible_to(request.user).select_related("patient__clinic"), pk=pk)
    mark_target(request, lesion)
    return lesion


def find_visible_image(user, pk: int, images=LesionImage.objects) -> LesionImage:
    return get_object_or_404(images.visible_to(user).select_related("lesion__patient"), pk=pk)


def visible_image(request, pk: int, images=LesionImage.objects) -> LesionImage:
    image = find_visible_image(request.user, pk, images)
    mark_target(request, image)
    return image


def lesion_images(lesion: Lesion, user) -> list[LesionImage]:
    """The lesion's photos, oldest first, each marked with whether `user` sees its result."""
    return ResultViewer(user).mark(images_with_predictions(lesion.images.order_by("captured_at", "id")))


@login_required
@require_GET
def lesion_detail(request, pk: int):
    lesion = visible_lesion(request, pk)
    return render_lesion_page(request, lesion, PhotoForm())


@login_required
@require_POST
def lesion_edit(request, pk: int):
    lesion = visible_lesion(request, pk)
    if not access.can_edit_patient(request.user, lesion.patient):
        raise PermissionDenied("Only the patient's clinic can change the lesion's details.")
    details = LesionDetailsForm(request.POST, instance=lesion)
    if not details.is_valid():
        lesion.refresh_from_db()  # the heading shows the stored lesion, not the refused values
        return render_lesion_page(request, lesion, PhotoForm(), status=400, details=details)
    correction = update_lesion(lesion=lesion, changed_by=request.user, fields=details.cleaned_data)
    mark_target(request, correction.record, changes=correction.changes)
    messages.success(request, "The lesion's details were saved.")
    return redirect("lesion", pk=lesion.pk)


@login_required
@require_POST
def lesion_diagnosis(request, pk: int):
    lesion = visible_lesion(request, pk)
    if not access.can_edit_patient(request.user, lesion.patient):
        raise PermissionDenied("Only the patient's clinic can record a confirmed diagnosis.")
    diagnosis_form = ConfirmedDiagnosisForm(request.POST)
    if not diagnosis_form.is_valid():
        return render_lesion_page(request, lesion, PhotoForm(), status=400, diagnosis_form=diagnosis_form)
    confirm_diagnosis(lesion=lesion, recorded_by=request.user, **diagnosis_form.cleaned_data)
    messages.success(request, "The confirmed diagnosis was recorded.")
    return redirect("lesion", pk=lesion.pk)


@login_required
@require_POST
def lesion_status(request, pk: int):
    lesion = visible_lesion(request, pk)
    if not access.can_edit_patient(request.user, lesion.patient):
        raise PermissionDenied("Only the patient's clinic can change the lesion's status.")
    status_form = LesionStatusForm(request.POST)
    if status_form.is_valid():
        try:
            change_lesion_status(lesion=lesion, changed_by=request.user, **status_form.cleaned_data)
        except ValidationError as error:
            status_form.add_error("status", error)
    if status_form.errors:
        return render_lesion_page(request, lesion, PhotoForm(), status=400, status_form=status_form)
    messages.success(request, f"The lesion is now {lesion.get_status_display().lower()}.")
    return redirect("lesion", pk=lesion.pk)


def render_lesion_page(
    request, lesion: Lesion, form: PhotoForm, status: int = 200, details=None, diagnosis_form=None, status_form=None
):
    images = lesion_images(lesion, request.user)
    editable = access.can_edit_patient(request.user, lesion.patient)
    if editable:
        for image in images:
            image.review_form = PhotoReviewForm.for_image(image)
    confirmed = ConfirmedDiagnosis.objects.filter(lesion=lesion).first()
    last_photo_at = images[-1].captured_at if images else None
    return render(
        request,
        "lesions/lesion.html",
        {
            "lesion": lesion,
            "patient": lesion.patient,
            "images": images[::-1],
            "chart": chart_for(images),
            "form": form if access.can_add_photos(request.user, lesion) else None,
            "editable": editable,
            "details": (details or LesionDetailsForm(instance=lesion)) if editable else None,
            "confirmed": confirmed,
            "diagnosis_form": (diagnosis_form or ConfirmedDiagnosisForm(instance=confirmed)) if editable else None,
            "status_form": (status_form or LesionStatusForm()) if editable else None,
            "status_history": lesion.status_history.select_related("changed_by"),
            "follow_up_due_at": lesion.follow_up_due_at(last_photo_at),
            "overdue_since": lesion.follow_up_overdue_since(last_photo_at),
            "classes": CLASSES,
        },
        status=status,
    )


def chart_for(images: list[LesionImage]):
    """The chart of the results shown to the viewer (see lesion_images)."""
    relative = presenters.relative_areas(images)
    samples = []
    for image in images:
        if not image.result_shown:
            continue
        prediction = image.latest_prediction
        size = image.size_in_mm
        samples.append(
            Sample(
                when=image.captured_at,
                malignancy=prediction.malignancy if prediction else None,
                relative_area=relative.get(image.pk),
                area_mm2=size.area_mm2 if size else None,
            )
        )
    return timeline_chart(samples)


@login_required
@require_GET
def lesion_report(request, pk: int):
    lesion = visible_lesion(request, pk)
    mark_target(request, lesion, action=AuditEvent.Action.EXPORT)
    return report_response(summarise_lesion(lesion, shown_to=request.user))


@login_required
@require_GET
def lesion_chart(request, pk: int):
    lesion = visible_lesion(request, pk)
    chart = chart_for(lesion_images(lesion, request.user))
    return render(request, "lesions/_chart.html", {"chart": chart, "lesion": lesion})


@login_required
@require_POST
def photo_upload(request, pk: int):
    lesion = visible_lesion(request, pk)
    if not access.can_add_photos(request.user, lesion):
        raise PermissionDenied("Only the patient's clinic or the patient can add photos to this lesion.")
    form = PhotoForm(request.POST, request.FILES)
    image = None
    if form.is_valid():
        try:
            image = add_lesion_image(
                lesion=lesion,
                upload=form.cleaned_data["image"],
                uploaded_by=request.user,
                modality=form.cleaned_data["modality"],
                captured_at=form.cleaned_data["captured_at"],
            )
        except ValidationError as error:
            form.add_error(None if hasattr(error, "error_dict") else "image", error)
    if is_htmx(request):
        context = {
            "lesion": lesion,
            "form": PhotoForm() if image else form,
            "new_image": ResultViewer(request.user).mark([image])[0] if image else None,
            "classes": CLASSES,
        }
        # htmx swaps 2xx answers only; the form with its errors is still the answer to show.
        return render(request, "lesions/_upload_response.html", context)
    if image is None:
        return render_lesion_page(request, lesion, form, status=400)
    if ResultViewer(request.user).sees_result(image):
        messages.success(request, "The photo was added; its result appears here when the analysis finishes.")
    else:
        messages.success(request, f"The photo was added. {AWAITING_REVIEW}")
    return redirect("lesion", pk=lesion.pk)


@login_required
@require_GET
def photo_card(request, pk: int):
    image = find_visible_image(request.user, pk, images_with_predictions(LesionImage.objects))
    response = render_photo_card(request, image)
    if not image.is_processing:
        # The page polls every 2 s while the worker runs, showing nothing the lesion page (audited) did not; only
        # the answer that shows the whole result is recorded, so a stalled worker does not fill the audit trail.
        mark_target(request, image)
        # The lesion page's chart listens for this and redraws itself with the new result.
        response["HX-Trigger"] = "photo-finished"
    return response


def render_photo_card(request, image: LesionImage):
    editable = access.can_edit_patient(request.user, image.lesion.patient)
    ResultViewer(request.user).mark([image])
    if editable:
        image.review_form = PhotoReviewForm.for_image(image)
    context = {"image": image, "lesion": image.lesion, "classes": CLASSES, "editable": editable}
    return render(request, "lesions/_photo_card.html", context)


@login_required
@require_POST
def photo_classify_anyway(request, pk: int):
    """A clinician asks for the model's answer on a photo the photo check held back."""
    image = visible_image(request, pk)
    try:
        image = classify_held_back_photo(image=image, requested_by=request.user)
    except ValidationError as error:
        if not is_htmx(request):
            messages.error(request, " ".join(error.messages))
            return redirect("lesion", pk=image.lesion_id)
        return HttpResponse(" ".join(error.messages), status=409)
    if is_htmx(request):
        return render_photo_card(request, image)
    messages.success(request, "The photo was sent to the classifier; its answer appears here when it is ready.")
    return redirect("lesion", pk=image.lesion_id)


@login_required
@require_GET
def lesion_compare(request, pk: int):
    lesion = visible_lesion(request, pk)
    # Comparing shows both photos' results: only photos whose results the viewer sees are offered.
    images = [image for image in lesion_images(lesion, request.user) if image.result_shown]
    context = {"lesion": lesion, "patient": lesion.patient, "images": images}
    if len(images) < 2:
        return render(request, "lesions/compare.html", context)
    form = ComparisonForm(request.GET or None, images=images, initial={"before": images[-2].pk, "after": images[-1].pk})
    if form.is_bound and not form.is_valid():
        return render(request, "lesions/compare.html", {**context, "form": form}, status=400)
    by_pk = {image.pk: image for image in images}
    before, after = (by_pk[form.cleaned_data[name]] for name in ("before", "after")) if form.is_bound else images[-2:]
    if before.captured_at > after.captured_at:
        before, after = after, before
    if before.pk == after.pk:
        form.add_error("after", "Choose two different photos.")
        return render(request, "lesions/compare.html", {**context, "form": form}, status=400)
    change = presenters.change_or_queue(before, after)
    if change is None:  # the worker measures it; the page reloads itself until it has
        return render(
            request, "lesions/compare.html", {**context, "form": form, "before": before, "after": after, "queued": True}
        )
    return render(
        request,
        "lesions/compare.html",
        {
            **context,
            "form": form,
            "before": before,
            "after": after,
            "change": change,
            "before_size": before.size_in_mm,
            "after_size": after.size_in_mm,
            "after_transform": presenters.svg_transform(change),
            "probability_rows": presenters.probability_rows(before.latest_prediction, after.latest_prediction),
            "rule": CHANGE_RULE,
            "flag_record": changed_flag_record(),
        },
    )


@login_required
@require_POST
def photo_review(request, pk: int):
    image = visible_image(request, pk)
    if not access.can_review(request.user, image):
        raise PermissionDenied("Only a clinician of the patient's clinic can review this photo.")
    form = PhotoReviewForm.for_image(image, request.POST)
    if not form.is_valid():
        problems = [f"{form[name].label}: {' '.join(errors)}" for name, errors in form.errors.items()]
        messages.error(request, "The review was not saved. " + " ".join(problems))
    else:
        try:
            review_photo(image=image, reviewed_by=request.user, **form.cleaned_data)
        except ValidationError as error:
            messages.error(request, " ".join(error.messages))
        else:
            messages.success(request, "The review was saved; the patient now sees the result.")
    return redirect(next_page(request, default=reverse("lesion", args=[image.lesion_id])))


@login_required
@require_POST
def photo_acknowledge(request, pk: int):
    image = visible_image(request, pk)
    try:
        acknowledge_change(image=image, acknowledged_by=request.user)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, "The flagged change was acknowledged.")
    return redirect(next_page(request, default=reverse("lesion", args=[image.lesion_id])))


def next_page(request, *, default: str) -> str:
    """Where a form posted from several pages returns: its `next` field when that is a path on this site."""
    target = request.POST.get("next", "")
    allowed = url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}, require_https=False)
    return target if target.startswith("/") and allowed else default


@require_GET
def learn(request):
    return render(request, "lesions/learn.html")


@login_required
@require_GET
def photo_outline(request, pk: int):
    image = visible_image(request, pk, LesionImage.objects.with_release())
    if not ResultViewer(request.user).sees_result(image):
        raise PermissionDenied("The measured outline is part of the photo's result, which the clinic has not reviewed.")
    response = HttpResponse(presenters.outline_png(image), content_type="image/png")
    response["Cache-Control"] = "private, max-age=300"
    return response


@login_required
@require_http_methods(["GET", "POST"])
def patient_edit(request, pk: int):
    """Correct a patient's details: the patient's clinic only."""
    patient = get_object_or_404(Patient.objects.visible_to(request.user).select_related("clinic"), pk=pk)
    mark_target(request, patient)
    if not access.can_edit_patient(request.user, patient):
        raise PermissionDenied("Only the patient's clinic can change the patient's details.")
    form = PatientDetailsForm(request.POST or None, instance=patient)
    if request.method == "POST" and form.is_valid():
        correction = update_patient(patient=patient, changed_by=request.user, fields=form.cleaned_data)
        mark_target(request, patient, changes=correction.changes)
        messages.success(request, f"{patient.full_name}'s details were saved.")
        return redirect("patient", pk=patient.pk)
    return render(
        request, "lesions/patient_form.html", {"form": form, "patient": patient}, status=400 if form.errors else 200
    )


@login_required
@require_http_methods(["GET", "POST"])
def photo_edit(request, pk: int):
    """Move a photo to another lesion of the same patient or correct its date; delete it from here too."""
    image = visible_image(request, pk)
    if not access.can_edit_patient(request.user, image.lesion.patient):
        raise PermissionDenied("Only the patient's clinic can correct this photo.")
    form = PhotoCorrectionForm(request.POST or None, image=image)
    if request.method == "POST" and form.is_valid():
        try:
            correction = correct_photo(
                image=image,
                changed_by=request.user,
                lesion_id=form.cleaned_data["lesion"].pk,
                captured_at=form.cleaned_data["captured_at"],
            )
        except ValidationError as error:
            form.add_error(None, error)
        else:
            mark_target(request, image, changes=correction.changes)
            messages.success(request, "The photo was corrected." if correction.changes else "Nothing was changed.")
            return redirect("lesion", pk=correction.record.lesion_id)
    return render_photo_edit(request, image, form=form, scale_form=PhotoScaleForm(image=image))


def render_photo_edit(request, image: LesionImage, *, form, scale_form):
    context = {
        "form": form,
        "scale_form": scale_form,
        "image": image,
        "lesion": image.lesion,
        "patient": image.lesion.patient,
    }
    failed = form.errors or scale_form.errors
    return render(request, "lesions/photo_edit.html", context, status=400 if failed else 200)


@login_required
@require_POST
def photo_scale(request, pk: int):
    """The photo's scale from a line drawn over a ruler or a known length on it, or forgotten (`forget`)."""
    image = visible_image(request, pk)
    if not access.can_edit_patient(request.user, image.lesion.patient):
        raise PermissionDenied("Only the patient's clinic can set this photo's scale.")
    forget = "forget" in request.POST
    form = PhotoScaleForm(None if forget else request.POST, image=image)
    if forget or form.is_valid():
        mm_per_pixel = None if forget else form.cleaned_data["mm_per_pixel"]
        try:
            correction = set_photo_scale(image=image, changed_by=request.user, mm_per_pixel=mm_per_pixel)
        except ValidationError as error:
            form.add_error(None, error.messages)
        else:
            mark_target(request, image, changes=correction.changes)
            messages.success(request, "The photo's scale was forgotten." if forget else "The photo's scale was saved.")
            return redirect("photo-edit", pk=image.pk)
    return render_photo_edit(request, image, form=PhotoCorrectionForm(image=image), scale_form=form)


@login_required
@require_http_methods(["GET", "POST"])
def clinic_dermatoscope(request, pk: int):
    """The clinic's dermatoscope field of view, which gives its dermoscopic photos sizes in millimetres: its
    members read it, its admins set it."""
    clinic = get_object_or_404(Clinic.objects.filter(pk__in=access.clinic_ids_of(request.user)), pk=pk)
    mark_target(request, clinic)
    editable = access.is_clinic_admin(request.user, clinic.pk)
    if request.method == "POST" and not editable:
        raise PermissionDenied("Only an admin of the clinic can set its dermatoscope's field of view.")
    form = ClinicDermatoscopeForm(request.POST or None, instance=clinic)
    if request.method == "POST" and form.is_valid():
        millimetres = form.cleaned_data["dermatoscope_field_of_view_mm"]
        correction = set_dermatoscope_field_of_view(clinic=clinic, changed_by=request.user, millimetres=millimetres)
        mark_target(request, clinic, changes=correction.changes)
        messages.success(request, "The dermatoscope's field of view was saved.")
        return redirect("clinic-dermatoscope", pk=clinic.pk)
    context = {"clinic": clinic, "form": form, "editable": editable}
    return render(request, "lesions/clinic_dermatoscope.html", context, status=400 if form.errors else 200)


@login_required
@require_POST
def photo_delete(request, pk: int):
    image = visible_image(request, pk)
    correction = delete_photo(image=image, deleted_by=request.user)
    mark_target(request, image, changes=correction.changes)
    messages.success(request, "The photo was deleted. A clinic admin can restore it within 30 days.")
    return redirect("lesion", pk=image.lesion_id)


@login_required
@require_POST
def lesion_delete(request, pk: int):
    lesion = visible_lesion(request, pk)
    correction = delete_lesion(lesion=lesion, deleted_by=request.user)
    mark_target(request, lesion, changes=correction.changes)
    messages.success(request, f"{lesion} and its photos were deleted. A clinic admin can restore them within 30 days.")
    return redirect("patient", pk=lesion.patient_id)


@login_required
@require_GET
def deleted_records(request):
    """A clinic admin's list of the clinic's photos and lesions deleted within the restore period."""
    if not access.is_clinic_admin(request.user):
        raise PermissionDenied("Only clinic admins restore deleted records.")
    admin_of = access.clinic_ids_of(request.user, admin=True)
    lesions = (
        restorable_for(Lesion, user=request.user)
        .filter(patient__clinic_id__in=admin_of)
        .select_related("patient", "deleted_by")
        .order_by("-deleted_at")
    )
    # A deleted lesion's photos come back with it: only photos deleted on their own are listed.
    photos = (
        restorable_for(LesionImage, user=request.user)
        .filter(lesion__patient__clinic_id__in=admin_of, lesion__deleted_at__isnull=True)
        .select_related("lesion__patient", "deleted_by")
        .order_by("-deleted_at")
    )
    mark_list_read(request, [*lesions, *photos], description="deleted records")
    context = {"lesions": lesions, "photos": photos, "days": RESTORABLE_FOR.days}
    return render(request, "lesions/deleted_records.html", context)


@login_required
@require_POST
def photo_restore(request, pk: int):
    image = get_object_or_404(restorable_for(LesionImage, user=request.user).select_related("lesion"), pk=pk)
    mark_target(request, image)
    restore_deleted(request, lambda: restore_photo(image=image, restored_by=request.user), "The photo was restored.")
    return redirect("deleted-records")


@login_required
@require_POST
def lesion_restore(request, pk: int):
    lesion = get_object_or_404(restorable_for(Lesion, user=request.user), pk=pk)
    mark_target(request, lesion)
    message = f"{lesion} was restored with its photos."
    restore_deleted(request, lambda: restore_lesion(lesion=lesion, restored_by=request.user), message)
    return redirect("deleted-records")


def restore_deleted(request, restore, message: str) -> None:
    try:
        correction = restore()
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
        return
    mark_target(request, correction.record, changes=correction.changes)
    messages.success(request, message)
