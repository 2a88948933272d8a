"""The clinic's pages. Every object comes through the same visibility querysets as the API, so another clinic's
objects answer 404 here too; only the patient's clinic may change anything (patients read their own record)."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db.models import Count, Exists, Max, OuterRef, Prefetch, Q, Subquery
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from audit.services import mark_list_read, mark_target
from inference.change import CANNOT_TELL, CHANGE_RULE, CHANGED
from inference.labels import CLASSES
from inference.segmentation_eval import changed_flag_record
from lesions import comparison
from lesions.api import images_with_predictions
from lesions.charts import timeline_chart
from lesions.forms import (
    ComparisonForm,
    ConfirmedDiagnosisForm,
    LesionDetailsForm,
    LesionForm,
    LesionStatusForm,
    PatientForm,
    PhotoForm,
    PhotoReviewForm,
)
from lesions.models import ConfirmedDiagnosis, Lesion, LesionImage, Patient, Prediction
from lesions.release import AWAITING_REVIEW, ResultViewer
from lesions.services import (
    acknowledge_change,
    add_lesion_image,
    change_lesion_status,
    classify_held_back_photo,
    confirm_diagnosis,
    is_own_lesion,
    review_photo,
)

# A sensitive triage line for the dashboard, not a diagnostic cut-off: lesions at or above it are listed first.
ATTENTION_MALIGNANCY = 0.3
PATIENTS_PER_PAGE = 50
QUEUE_ITEMS_PER_PAGE = 25
ATTENTION_LIMIT = 20


def is_htmx(request) -> bool:
    return request.headers.get("HX-Request") == "true"


def can_edit(user, patient: Patient) -> bool:
    return Patient.objects.editable_by(user).filter(pk=patient.pk).exists()


def can_add_photos(user, lesion: Lesion) -> bool:
    """The patient's clinic, and the patient themself for photos taken at home (as the API allows)."""
    return can_edit(user, lesion.patient) or is_own_lesion(user=user, lesion=lesion)


def with_recent_images(lesions, count: int):
    """Each lesion's `recent_images`: its newest photos (newest first) with their predictions, in one query."""
    recent = images_with_predictions(LesionImage.objects.order_by("-captured_at", "-id"))
    return lesions.prefetch_related(Prefetch("images", queryset=recent[:count], to_attr="recent_images"))


def latest_change(lesion: Lesion) -> dict | None:
    """The measured change between the lesion's last two photos, if it has been measured (and, for the patient,
    released: the change flag is part of the newest photo's result)."""
    if len(lesion.recent_images) < 2 or not lesion.recent_images[0].change_shown:
        return None
    after, before = lesion.recent_images[:2]
    return comparison.with_verdict(comparison.stored_change(before, after))


def latest_prediction(field: str):
    """A field of the prediction on the lesion's newest photo, as a subquery for annotating lesions."""
    # A photo the photo check held back never puts its lesion on the attention list, even once a clinician has
    # asked for the model's answer on it.
    newest_first = (
        Prediction.objects.filter(image__lesion=OuterRef("pk"))
        .exclude(image__gate_verdict__passed=False)
        .order_by("-image__captured_at", "-image_id", "-created_at")
    )
    return Subquery(newest_first.values(field)[:1])


@login_required
@require_GET
def home(request):
    user = request.user
    own_record = getattr(user, "patient_record", None)
    if own_record is not None and not user.memberships.exists():
        return redirect("patient", pk=own_record.pk)
    query = request.GET.get("q", "").strip()
    patients = Patient.objects.visible_to(user).annotate(
        lesion_count=Count("lesions", distinct=True), last_photo=Max("lesions__images__captured_at")
    ).order_by("last_name", "first_name", "id")
    if query:
        patients = patients.filter(
            Q(first_name__icontains=query) | Q(last_name__icontains=query) | Q(medical_record_number__icontains=query)
        )
    page = Paginator(patients, PATIENTS_PER_PAGE).get_page(request.GET.get("page"))
    attention = lesions_needing_attention(user)
    shown_attention = attention[:ATTENTION_LIMIT]
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
            "threshold": ATTENTION_MALIGNANCY,
            "queue": review_queue_counts(user),
        },
    )


def review_queue_counts(user) -> dict[str, int]:
    """How many of the user's clinics' photos await review, and how many flagged changes await acknowledgement."""
    waiting = LesionImage.objects.reviewable_by(user).in_review_queue()
    return {
        "photos": waiting.unreviewed().count(),
        "changes": waiting.filter(change_from_previous__changed=True, change_acknowledgement__isnull=True).count(),
    }


@login_required
@require_GET
def review_queue(request):
    """The clinic's photos waiting for a person, oldest first: new photos to review and flagged changes."""
    if not request.user.memberships.exists():
        raise PermissionDenied("Only clinic members have a review queue.")
    waiting = images_with_predictions(LesionImage.objects.reviewable_by(request.user).in_review_queue())
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


def attention_candidates(user):
    """The visible lesions still followed (not excised or closed) that may need attention: a flagged stored change
    on the newest photo, a newest photo not yet measured (a page may have measured it), a high latest score, or a
    follow-up plan. The database does this narrowing so the dashboard never loads every lesion's photos."""
    newest_photo = LesionImage.objects.filter(lesion=OuterRef("pk")).order_by("-captured_at", "-id")
    newest_photo_is = LesionImage.objects.filter(pk=OuterRef("newest_photo_id"))
    has_earlier_photo = Exists(
        LesionImage.objects.filter(lesion=OuterRef("pk")).exclude(pk=OuterRef("newest_photo_id"))
    )
    may_qualify = (
        Q(malignancy__gte=ATTENTION_MALIGNANCY)
        | Q(follow_up_interval__isnull=False)
        | Exists(newest_photo_is.filter(change_from_previous__changed=True))
        | Exists(newest_photo_is.filter(change_from_previous__verdict=CANNOT_TELL))
        | (Exists(newest_photo_is.filter(change_from_previous__isnull=True)) & has_earlier_photo)
    )
    return (
        Lesion.objects.visible_to(user)
        .still_followed()
        .select_related("patient")
        .annotate(
            newest_photo_id=Subquery(newest_photo.values("pk")[:1]),
            malignancy=latest_prediction("malignancy"),
            model_version=latest_prediction("model_version__version"),
        )
        .filter(may_qualify)
    )


def lesions_needing_attention(user) -> list[Lesion]:
    """Lesions with a flagged change between their last two photos (or two photos that could not be compared
    fairly), a high latest malignancy score, or a follow-up photo due: the changed ones first, then by score."""
    lesions = with_recent_images(attention_candidates(user), 2)
    viewer = ResultViewer(user)
    now = timezone.now()
    flagged = []
    for lesion in lesions:
        viewer.mark(lesion.recent_images)
        lesion.change = latest_change(lesion)
        lesion.changed = bool(lesion.change and lesion.change["verdict"] == CHANGED)
        lesion.cannot_tell = bool(lesion.change and lesion.change["verdict"] == CANNOT_TELL)
        last_photo = lesion.recent_images[0].captured_at if lesion.recent_images else None
        lesion.due_at = lesion.follow_up_due_at(last_photo)
        lesion.follow_up_due = lesion.due_at is not None and lesion.due_at <= now
        if (
            lesion.changed
            or lesion.cannot_tell
            or lesion.follow_up_due
            or (lesion.malignancy or 0) >= ATTENTION_MALIGNANCY
        ):
            flagged.append(lesion)
    flagged.sort(key=lambda lesion: (not lesion.changed, -(lesion.malignancy or 0), not lesion.follow_up_due))
    return flagged


@login_required
@require_http_methods(["GET", "POST"])
def patient_new(request):
    if not request.user.memberships.exists():
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
    editable = can_edit(request.user, patient)
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
    if not can_edit(request.user, lesion.patient):
        raise PermissionDenied("Only the patient's clinic can change the lesion's details.")
    details = LesionDetailsForm(request.POST, instance=lesion)
    if not details.is_valid():
        lesion.refresh_from_db()  # the heading shows the stored lesion, not the refused values
        return render_lesion_page(request, lesion, PhotoForm(), status=400, details=details)
    details.save()
    messages.success(request, "The lesion's details were saved.")
    return redirect("lesion", pk=lesion.pk)


@login_required
@require_POST
def lesion_diagnosis(request, pk: int):
    lesion = visible_lesion(request, pk)
    if not can_edit(request.user, lesion.patient):
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
    if not can_edit(request.user, lesion.patient):
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
    editable = can_edit(request.user, lesion.patient)
    if editable:
        for image in images:
            image.review_form = PhotoReviewForm.for_image(image)
    confirmed = ConfirmedDiagnosis.objects.filter(lesion=lesion).first()
    return render(
        request,
        "lesions/lesion.html",
        {
            "lesion": lesion,
            "patient": lesion.patient,
            "images": images[::-1],
            "chart": chart_for(images),
            "form": form if can_add_photos(request.user, lesion) else None,
            "editable": editable,
            "details": (details or LesionDetailsForm(instance=lesion)) if editable else None,
            "confirmed": confirmed,
            "diagnosis_form": (diagnosis_form or ConfirmedDiagnosisForm(instance=confirmed)) if editable else None,
            "status_form": (status_form or LesionStatusForm()) if editable else None,
            "status_history": lesion.status_history.select_related("changed_by"),
            "follow_up_due_at": lesion.follow_up_due_at(images[-1].captured_at if images else None),
            "classes": CLASSES,
        },
        status=status,
    )


def chart_for(images: list[LesionImage]):
    """The chart of the results shown to the viewer (see lesion_images)."""
    samples = []
    for image in images:
        if not image.result_shown:
            continue
        prediction = image.latest_prediction
        samples.append(
            (image.captured_at, prediction.malignancy if prediction else None, comparison.area_of(image))
        )
    return timeline_chart(samples)


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
    if not can_add_photos(request.user, lesion):
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
    editable = can_edit(request.user, image.lesion.patient)
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
    change = comparison.change_or_queue(before, after)
    if change is None:  # the worker measures it; the page reloads itself until it has
        return render(request, "lesions/compare.html", {**context, "form": form, "before": before, "after": after,
                                                        "queued": True})
    return render(
        request,
        "lesions/compare.html",
        {
            **context,
            "form": form,
            "before": before,
            "after": after,
            "change": change,
            "after_transform": comparison.svg_transform(change),
            "probability_rows": comparison.probability_rows(before.latest_prediction, after.latest_prediction),
            "rule": CHANGE_RULE,
            "flag_record": changed_flag_record(),
        },
    )


@login_required
@require_POST
def photo_review(request, pk: int):
    image = visible_image(request, pk)
    if not can_edit(request.user, image.lesion.patient):
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
    response = HttpResponse(comparison.outline_png(image), content_type="image/png")
    response["Cache-Control"] = "private, max-age=300"
    return response
