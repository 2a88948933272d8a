from django.db import transaction
from django.db.models.signals import post_delete
from django.dispatch import receiver

from lesions.models import LesionImage


@receiver(post_delete, sender=LesionImage)
def delete_image_files(sender, instance: LesionImage, **kwargs):
    """Remove the stored files once the deletion is committed, so a rolled-back delete keeps them."""
    names = [field.name for field in (instance.image, instance.thumbnail, instance.mask) if field.name]
    storage = instance.image.storage
    transaction.on_commit(lambda: [storage.delete(name) for name in names])
