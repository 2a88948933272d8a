import logging
from datetime import timedelta

from celery import current_app, shared_task
from celery.contrib.django.task import DjangoTask
from celery.signals import worker_process_init, worker_ready
from django.db import connection
from django.utils import timezone
from kombu.exceptions import ChannelError

from lesions import pipeline, purge, registry
from lesions.pipeline import CHANGE, CLASSIFICATION, OUTLINE, STAGES

logger = logging.getLogger(__name__)


class ClassificationTask(DjangoTask):
    def on_failure(self, exc, task_id, args, kwargs, einfo):
        """Retries are spent (the database stayed away): say so on the image rather than leave it running."""
        try:
            pipeline.mark_failed(image_pk=args[0], error=exc)
        except pipeline.TRANSIENT_ERRORS:
            logger.exception("Image %s could not even be marked failed.", args[0])


@shared_task(
    base=ClassificationTask,
    acks_late=True,
    reject_on_worker_lost=True,
    soft_time_limit=CLASSIFICATION.time_limit_s - 10,
    time_limit=CLASSIFICATION.time_limit_s,
    autoretry_for=pipeline.TRANSIENT_ERRORS,
    retry_backoff=True,
    retry_backoff_max=20,
    max_retries=6,
)
def classify_image_task(image_pk: int) -> None:
    """Routed to the `classification` queue, which a process of its own serves: nothing else ever delays it. It
    takes the photos queued behind its own too; their messages, when they come, find them done."""
    # The outline does not need the prediction: it follows whether classification succeeded or not. A photo done
    # already is left alone: the task that took it sent its outline (a worker killed between the two leaves the
    # outline queued, and the safety net sends it).
    pipeline.classify_photos(image_pk=image_pk, then=analyse_image_task.delay)


@shared_task(
    acks_late=True,
    reject_on_worker_lost=True,
    soft_time_limit=OUTLINE.time_limit_s - 10,
    time_limit=OUTLINE.time_limit_s,
    autoretry_for=pipeline.TRANSIENT_ERRORS,
    retry_backoff=2,
    retry_backoff_max=10,
    max_retries=3,
)
def analyse_image_task(image_pk: int) -> None:
    """Routed to the `analysis` queue: the outline and the change from the previous photo take up to seconds."""
    pipeline.analyse_image(image_pk=image_pk)


@shared_task(
    acks_late=True,
    reject_on_worker_lost=True,
    soft_time_limit=OUTLINE.time_limit_s - 10,
    time_limit=OUTLINE.time_limit_s,
)
def measure_pair_task(before_pk: int, after_pk: int) -> None:
    """Any two photos of a lesion, asked for by the compare API or page; routed to the `analysis` queue."""
    pipeline.measure_pair(before_pk=before_pk, after_pk=after_pk)


TASK_OF_STAGE = {CLASSIFICATION: classify_image_task, OUTLINE: analyse_image_task, CHANGE: analyse_image_task}


def queued_messages(queue: str) -> int:
    with current_app.connection_for_read() as broker:
        try:
            return broker.default_channel.queue_declare(queue=queue, passive=True).message_count
        except ChannelError:  # Redis forgets an empty queue: it holds no message
            return 0


@shared_task(soft_time_limit=50, time_limit=60)
def resend_unfinished_stages_task(lost_after_s: float = pipeline.LOST_MESSAGE_AFTER.total_seconds()) -> None:
    """Periodic safety net (celery beat): send again, once, each stage a dead worker left undone or whose message
    was lost. A photo waiting behind a backlog is left alone: its message is still queued."""
    idle_queues = {stage.queue for stage in STAGES if queued_messages(stage.queue) == 0}
    undone = pipeline.stages_left_undone(
        now=timezone.now(), idle_queues=idle_queues, lost_after=timedelta(seconds=lost_after_s)
    )
    for image_pk, stage in undone:
        if pipeline.claim_resend(image_pk=image_pk, stage=stage):
            logger.warning("Image %s: its %s was left undone; sending it again.", image_pk, stage.name)
            TASK_OF_STAGE[stage].delay(image_pk)


def consumes(app, queue: str) -> bool:
    return queue in app.amqp.queues.consume_from


@worker_process_init.connect
def load_model_before_first_task(**kwargs) -> None:
    """A classifying worker loads the model as its process starts, so the first upload waits no longer than the
    others; an analysis-only worker never loads it."""
    if not consumes(current_app, CLASSIFICATION.queue):
        return
    try:
        registry.served_classifier()
    except Exception:
        # The first task reports the problem on its image; the worker stays up to serve a repaired file.
        logger.exception("The classification model could not be loaded at worker start.")
    finally:
        connection.close()  # opened by the lookup of the active version; the task opens its own


@worker_ready.connect
def resend_stages_left_running(sender, **kwargs) -> None:
    """The embedded filesystem broker forgets a message once a worker takes it, so a stage whose worker was killed
    mid-task would stay `running` until the safety net's time limit. The embedded set-up runs one worker per queue:
    when it starts, any of its stages still running was left by a killed one. (Redis hands a killed worker's
    messages out again by itself.)"""
    app = sender.app
    if not str(app.conf.broker_url).startswith("filesystem://"):
        return
    for stage in STAGES:
        if consumes(app, stage.queue):
            for image_pk in pipeline.photos_running(stage):
                logger.warning(
                    "Image %s: its %s was left running by a stopped worker; sending it again.", image_pk, stage.name
                )
                TASK_OF_STAGE[stage].delay(image_pk)
    # The pool forks from this process later on (to replace a child): it must not inherit an open connection.
    connection.close()


@shared_task(soft_time_limit=240, time_limit=300)
def purge_deleted_task() -> None:
    """Periodic (celery beat): purge the photos and lesions deleted over their restore period ago, with files."""
    purged = purge.purge_deleted(now=timezone.now())
    if any(purged.values()):
        logger.info("Purged %(photos)s deleted photos and %(lesions)s deleted lesions.", purged)
