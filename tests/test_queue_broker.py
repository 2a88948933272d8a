"""The embedded broker under a worker that polls while the web process writes (no Django, no server)."""

import threading
from pathlib import Path

from kombu import Connection

from skintrack.broker import FOLDER_OPTIONS, TRANSPORT, filesystem_transport_options

MESSAGES = 1000


def test_a_consumer_polling_during_writes_reads_every_message_whole(tmp_path):
    """kombu's own filesystem transport fails this at once: the consumer reads a message file before its writer
    has filled it (JSONDecodeError). Large messages and no polling pause make that window wide."""
    options = filesystem_transport_options(tmp_path, polling_interval=0)
    for key in FOLDER_OPTIONS:
        Path(options[key]).mkdir(parents=True, exist_ok=True)
    payload = {"image_pk": 1, "padding": "x" * 20_000}
    received, errors = [], []
    # kombu keeps bindings per process, so the publisher below skips binding the queue the consumer thread bound:
    # it must not publish before that binding is on disk (separate web and worker processes each bind their own).
    consumer_bound = threading.Event()

    def consume():
        with Connection("filesystem://", transport=TRANSPORT, transport_options=options) as connection:
            queue = connection.SimpleQueue("race")
            consumer_bound.set()
            while len(received) + len(errors) < MESSAGES:
                try:
                    message = queue.get(block=True, timeout=10)
                except queue.Empty:
                    return
                except Exception as error:  # whatever the consumer meets is the finding
                    errors.append(repr(error))
                    continue
                received.append(message.payload)
                message.ack()

    consumer = threading.Thread(target=consume)
    consumer.start()
    assert consumer_bound.wait(timeout=30)
    with Connection("filesystem://", transport=TRANSPORT, transport_options=options) as connection:
        queue = connection.SimpleQueue("race")
        for _ in range(MESSAGES):
            queue.put(payload)
    consumer.join(timeout=60)

    assert not consumer.is_alive()
    assert errors == []
    assert len(received) == MESSAGES and all(message == payload for message in received)
    assert not list(Path(options["data_folder_in"]).iterdir())


def test_a_publisher_reading_the_exchange_table_while_a_worker_creates_it_reads_it_whole(tmp_path):
    """kombu creates a missing exchange table empty and fills it afterwards; a publisher looking up the table in
    between failed with a JSONDecodeError (seen once in CI). Each round: a fresh table (kombu remembers bindings
    per process, hence a new name), created by one connection while another reads it as fast as it can."""
    options = filesystem_transport_options(tmp_path, polling_interval=0)
    for key in FOLDER_OPTIONS:
        Path(options[key]).mkdir(parents=True, exist_ok=True)
    errors = []

    def read_until_bound(channel, name: str, bound: threading.Event):
        while not bound.is_set():
            try:
                channel.get_table(name)
            except Exception as error:  # whatever the reader meets is the finding
                errors.append(repr(error))

    with (
        Connection("filesystem://", transport=TRANSPORT, transport_options=options) as binder,
        Connection("filesystem://", transport=TRANSPORT, transport_options=options) as reader,
    ):
        for round_ in range(100):
            name, bound = f"race{round_}", threading.Event()
            spinner = threading.Thread(target=read_until_bound, args=(reader.default_channel, name, bound))
            spinner.start()
            binding = binder.default_channel
            binding.exchange_declare(exchange=name, type="direct")
            binding.queue_declare(queue=name)
            binding.queue_bind(name, exchange=name, routing_key=name)
            bound.set()
            spinner.join()
            assert [entry.queue for entry in reader.default_channel.get_table(name)] == [name]
    assert errors == []
