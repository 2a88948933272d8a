"""The dashboard's triage: which lesions need a clinician's attention, and how much waits in the review queue.
The database narrows the candidates so the dashboard never loads every lesion's photos."""

from django.db.models import Exists, OuterRef, Prefetch, Q, Subquery
from django.utils import timezone

from inference.analysis.change import CANNOT_TELL, CHANGED
from lesions import access, presenters
from lesions.models import Lesion, LesionImage, Prediction
from lesions.presenters import images_with_predictions
from lesions.release import ResultViewer

# A sensitive triage line for the dashboard, not a diagnostic cut-off: lesions at or above it are listed first.
ATTENTION_MALIGNANCY = 0.3
ATTENTION_LIMIT = 20


def with_recent_images(lesions, count: int):
    """Each lesion's `recent_images`: its newest photos (newest first) with their predictions, in one query."""
    recent = images_with_predictions(LesionImage.objects.order_by("-captured_at", "-id"))
    return lesions.prefetch_related(Prefetch("images", queryset=recent[:count], to_attr="recent_images"))


def mark_overdue(lesion: Lesion, *, now=None) -> Lesion:
    """Set `overdue_since` on a lesion fetched by `with_recent_images`: when its follow-up photo was due, if late."""
    last_photo_at = lesion.recent_images[0].captured_at if lesion.recent_images else None
    lesion.overdue_since = lesion.follow_up_overdue_since(last_photo_at, now=now)
    return lesion


def latest_change(lesion: Lesion) -> dict | None:
    """The measured change between the lesion's last two photos, if it has been measured (and, for the patient,
    released: the change flag is part of the newest photo's result)."""
    if len(lesion.recent_images) < 2 or not lesion.recent_images[0].change_shown:
        return None
    after, before = lesion.recent_images[:2]
    return presenters.with_verdict(presenters.stored_change(before, after))


def latest_prediction(field: str):
    """A field of the prediction on the lesion's newest photo, as a subquery for annotating lesions."""
    # A photo the photo check held back never puts its lesion on the attention list, even once a clinician has
    # asked for the model's answer on it.
    newest_first = (
        Prediction.objects.filter(image__lesion=OuterRef("pk"), image__deleted_at__isnull=True)
        .exclude(image__gate_verdict__passed=False)
        .order_by("-image__captured_at", "-image_id", "-created_at")
    )
    return Subquery(newest_first.values(field)[:1])


def review_queue_counts(user) -> dict[str, int]:
    """How many of the user's clinics' photos await review, and how many flagged changes await acknowledgement."""
    waiting = access.images_reviewable_by(user).in_review_queue()
    return {
        "photos": waiting.unreviewed().count(),
        "changes": waiting.filter(change_from_previous__changed=True, change_acknowledgement__isnull=True).count(),
    }


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
        mark_overdue(lesion, now=now)
        if (
            lesion.changed
            or lesion.cannot_tell
            or lesion.overdue_since
            or (lesion.malignancy or 0) >= ATTENTION_MALIGNANCY
        ):
            flagged.append(lesion)
    flagged.sort(key=lambda lesion: (not lesion.changed, -(lesion.malignancy or 0), lesion.overdue_since is None))
    return flagged
