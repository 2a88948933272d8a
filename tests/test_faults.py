"""Faults with real processes: Redis restarted while photos are queued, and the database refusing connections for
a moment at upload and in the worker. Whatever happens, every accepted photo ends `done` with one prediction.

The third fault of the reliability issue, a worker killed with SIGKILL mid-task, is
tests/test_queue.py::test_a_worker_killed_mid_task_leaves_the_photo_to_the_next_worker (on Redis and on the
embedded broker).
"""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection

from lesions.models import LesionImage, Prediction
from lesions.tasks import resend_unfinished_stages_task
from skintrack.celery import app as celery_app
from tests.conftest import api_client, require_program, require_service, stored_files
from tests.fault_support import RedisServer, TcpProxy
from tests.images import jpeg_bytes
from tests.queue_support import VISIBILITY_TIMEOUT_S, Broker, point_producer_at, upload, wait_for_status, wait_until

pytestmark = [pytest.mark.services, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


PHOTOS = 4
CELERY_QUEUE = "classification"


def assert_each_classified_once(image_pks: list[int]) -> None:
    for image_pk in image_pks:
        assert wait_for_status(image_pk, {"done", "failed"}) == "done"
    counts = {image_pk: Prediction.objects.filter(image_id=image_pk).count() for image_pk in image_pks}
    assert counts == dict.fromkeys(image_pks, 1)


def broker_at(server: RedisServer) -> Broker:
    return Broker(
        {"REDIS_URL": server.url, "CELERY_VISIBILITY_TIMEOUT": str(VISIBILITY_TIMEOUT_S)},
        redelivery_wait=VISIBILITY_TIMEOUT_S,
    )


@pytest.fixture
def own_redis(request, tmp_path):
    """A Redis server of the test's own, with the producer of this process pointed at it; persistent (an
    append-only file) unless the test's parameter says False. Never the machine's Redis: other test runs on the
    machine share that one, and their workers would take this test's messages."""
    server = RedisServer(
        program=require_program("redis-server"), folder=tmp_path / "redis", persistent=getattr(request, "param", True)
    )
    server.start()
    previous = (celery_app.conf.broker_url, celery_app.conf.broker_transport_options, celery_app.conf.broker_transport)
    point_producer_at(server.url, {"visibility_timeout": VISIBILITY_TIMEOUT_S})
    yield server
    point_producer_at(*previous)
    server.crash()


@pytest.mark.parametrize("own_redis", [True, False], ids=["append-only-file", "memory-only"], indirect=True)
def test_photos_queued_across_a_redis_crash_are_all_classified_once(people, own_redis, start_worker):
    client = api_client(people.clinician_a)
    photos = [upload(client, people.lesion_a) for _ in range(PHOTOS)]
    assert own_redis.client().llen(CELERY_QUEUE) == PHOTOS

    own_redis.restart()
    left = own_redis.client().llen(CELERY_QUEUE)
    start_worker(broker_at(own_redis))

    if own_redis.persistent:
        # Production's set-up (docker-compose.yml): the append-only file brings every message back.
        assert left == PHOTOS
    else:
        # Without persistence the messages died with the process; the photos wait, still `queued`, until the
        # safety net that celery beat runs sends them again, their queue being empty (here, at once).
        assert left == 0
        assert set(LesionImage.objects.filter(pk__in=photos).values_list("status", flat=True)) == {"queued"}
        resend_unfinished_stages_task.delay(lost_after_s=0)
    assert_each_classified_once(photos)


def test_a_running_worker_carries_on_after_redis_restarts(people, own_redis, start_worker):
    start_worker(broker_at(own_redis))
    client = api_client(people.clinician_a)
    before = upload(client, people.lesion_a)
    assert_each_classified_once([before])

    # The first photo is `done` once its prediction is stored; its outline may still be running when Redis goes:
    # the worker then restores the unacknowledged message, and the task runs again without adding anything.
    own_redis.restart()
    # Both sides reconnect by themselves: the uploads' messages go out, and the worker takes them.
    after = [upload(client, people.lesion_a) for _ in range(2)]
    assert_each_classified_once([before, *after])


@pytest.fixture
def database_proxy():
    """Routes this process's database connection, and the worker's, through a relay the test can cut."""
    require_service(
        connection.vendor == "postgresql",
        "the database fault test needs the test database on PostgreSQL (set DATABASE_URL)",
    )
    direct = {key: connection.settings_dict[key] for key in ("HOST", "PORT")}
    proxy = TcpProxy((direct["HOST"] or "127.0.0.1", int(direct["PORT"] or 5432)))
    proxy.accept()
    connection.close()
    connection.settings_dict.update(HOST="127.0.0.1", PORT=str(proxy.port))
    yield proxy
    proxy.refuse()
    connection.close()
    connection.settings_dict.update(direct)


def test_a_database_refusing_connections_for_a_moment_loses_and_duplicates_no_photo(
    people, database_proxy, own_redis, start_worker, isolated_media
):
    client = api_client(people.clinician_a)
    client.raise_request_exception = False
    photos = [upload(client, people.lesion_a) for _ in range(PHOTOS - 1)]
    files_before = stored_files(isolated_media)

    database_proxy.refuse()
    connection.close()  # as Django does after each request: the next one connects afresh
    refused = client.post(
        f"/api/lesions/{people.lesion_a.pk}/images/",
        {"image": SimpleUploadedFile("photo.jpg", jpeg_bytes(), content_type="image/jpeg")},
        format="multipart",
    )
    assert refused.status_code == 500
    assert stored_files(isolated_media) == files_before  # the refused upload left no file behind

    # The worker starts and takes the queued photos while the database still refuses it: each task is put back
    # to be retried with backoff, instead of failing the photo or dropping its message.
    worker = start_worker(broker_at(own_redis))
    wait_until(lambda: worker.log.read_text().count("Retry in") >= len(photos), f"{len(photos)} retries in the log")
    database_proxy.accept()

    photos.append(upload(client, people.lesion_a))  # the person sends the refused photo again
    assert_each_classified_once(photos)
    assert LesionImage.objects.filter(lesion=people.lesion_a).count() == PHOTOS
