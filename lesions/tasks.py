import logging
from datetime import timedelta

from celery import shared_task
from celery.contrib.django.task import DjangoTask
from celery.signals import worker_process_init, worker_ready
from django.db import connection
from django.utils import timezone

from lesions import classification, comparison

logger = logging.getLogger(__name__)


class ClassificationTask(DjangoTask):
    def on_failure(self, exc, task_id, args, kwargs, einfo):
        """Retries are spent (the database stayed away): say so on the image rather than leave it running."""
        try:
            classification.mark_failed(image_pk=args[0], error=exc)
        except classification.TRANSIENT_ERRORS:
            logger.exception("Image %s could not even be marked failed.", args[0])


@shared_task(
    base=ClassificationTask,
    acks_late=True,
    reject_on_worker_lost=True,
    soft_time_limit=60,
    time_limit=90,
    autoretry_for=classification.TRANSIENT_ERRORS,
    retry_backoff=True,
    retry_backoff_max=60,
    max_retries=6,
)
def classify_image_task(image_pk: int) -> None:
    if classification.classify_image(image_pk=image_pk):
        measure_change_task.delay(image_pk)


@shared_task(
    acks_late=True,
    reject_on_worker_lost=True,
    soft_time_limit=120,
    time_limit=180,
    autoretry_for=classification.TRANSIENT_ERRORS,
    retry_backoff=True,
    max_retries=3,
)
def measure_change_task(image_pk: int) -> None:
    """Routed to the `analysis` queue (settings): a comparison takes about a second, and new photos must not wait
    behind it for their predictions."""
    classification.measure_change(image_pk=image_pk)


@shared_task(acks_late=True, reject_on_worker_lost=True, soft_time_limit=120, time_limit=180)
def measure_pair_task(before_pk: int, after_pk: int) -> None:
    """Any two photos of a lesion, asked for by the compare API or page; routed to the `analysis` queue."""
    comparison.measure_pair(before_pk=before_pk, after_pk=after_pk)


@shared_task
def resend_stalled_images_task(stalled_after_s: int = 600) -> None:
    """Periodic safety net (celery beat): send again the photos that waited too long for a prediction. A photo
    that was in fact only slow is then classified twice, which updates its prediction and duplicates nothing."""
    for image_pk in classification.images_stalled(uploaded_before=timezone.now() - timedelta(seconds=stalled_after_s)):
        logger.warning("Image %s waited more than %s s for a prediction: sending it again.", image_pk, stalled_after_s)
        classify_image_task.delay(image_pk)


@worker_process_init.connect
def load_model_before_first_task(**kwargs) -> None:
    """Load the model as the worker process starts, so the first upload waits no longer than the others."""
    try:
        classification.served_classifier()
    except Exception:
        # The first task reports the problem on its image; the worker stays up to serve a repaired file.
        logger.exception("The classification model could not be loaded at worker start.")


@worker_ready.connect
def resend_photos_left_running(sender, **kwargs) -> None:
    """The embedded filesystem broker forgets a message once a worker takes it, so a photo whose worker was killed
    mid-task would stay `running` for ever. The embedded set-up runs a single worker: when it starts, any photo
    still running was left by a killed one. (Redis hands a killed worker's messages out again by itself.)"""
    if not str(sender.app.conf.broker_url).startswith("filesystem://"):
        return
    for image_pk in classification.images_left_running():
        logger.warning("Image %s was left running by a stopped worker: classifying it again.", image_pk)
        classify_image_task.delay(image_pk)
    # The pool forks from this process later on (to replace a child): it must not inherit an open connection.
    connection.close()
