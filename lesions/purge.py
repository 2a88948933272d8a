"""Deleted photos and lesions can be restored for RESTORABLE_FOR; then the daily purge deletes them for good."""

from datetime import datetime

from django.db import transaction
from django.db.models import Q

from lesions.models import Lesion, LesionImage


def purge_deleted(*, now: datetime) -> dict[str, int]:
    """Delete for good the photos and lesions deleted over RESTORABLE_FOR ago, and then their files (photo,
    thumbnail, outline mask). Running it again finds nothing more to do."""
    with transaction.atomic():
        lesions = Lesion.with_deleted.purgeable(now=now)
        photos = LesionImage.with_deleted.filter(
            Q(pk__in=LesionImage.with_deleted.purgeable(now=now)) | Q(lesion__in=lesions)
        ).select_for_update()
        files = [field for photo in photos for field in (photo.image, photo.thumbnail, photo.mask) if field.name]
        purged = {"photos": photos.count(), "lesions": lesions.count()}
        photos.delete()
        lesions.delete()
        # The rows go first: a file is only deleted once nothing can point at it any more.
        transaction.on_commit(lambda: delete_files(files))
    return purged


def delete_files(files) -> None:
    for stored in files:
        stored.storage.delete(stored.name)
