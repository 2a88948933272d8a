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

    def consume():
        with Connection("filesystem://", transport=TRANSPORT, transport_options=options) as connection:
            queue = connection.SimpleQueue("race")
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
    with Connection("filesystem://", transport=TRANSPORT, transport_options=options) as connection:
        queue = connection.SimpleQueue("race")
        for _ in range(MESSAGES):
            queue.put(payload)
    consumer.join(timeout=60)

    assert not consumer.is_alive()
    assert errors == []
    assert len(received) == MESSAGES and all(message == payload for message in received)
    assert not list(Path(options["data_folder_in"]).iterdir())
