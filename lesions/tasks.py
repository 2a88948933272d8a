from celery import shared_task
from django.db import DatabaseError

from lesions import classification


@shared_task(
    acks_late=True,
    reject_on_worker_lost=True,
    soft_time_limit=60,
    time_limit=90,
    autoretry_for=(DatabaseError,),
    retry_backoff=True,
    retry_backoff_max=60,
    max_retries=6,
)
def classify_image_task(image_pk: int) -> None:
    classification.classify_image(image_pk=image_pk)
