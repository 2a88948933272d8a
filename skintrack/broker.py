"""The embedded broker: kombu's filesystem transport, made safe for a worker polling while the web process writes."""

import os
import uuid
from pathlib import Path
from time import monotonic

from kombu.transport import filesystem
from kombu.utils.encoding import str_to_bytes
from kombu.utils.json import dumps

FOLDER_OPTIONS = ("data_folder_in", "data_folder_out", "processed_folder", "control_folder")
TRANSPORT = "skintrack.broker:FilesystemTransport"


def filesystem_transport_options(folder: Path, *, polling_interval: float) -> dict:
    """Every message kept under `folder`: a broker that needs no server."""
    return {
        "data_folder_in": str(folder / "queue"),
        "data_folder_out": str(folder / "queue"),
        "processed_folder": str(folder / "processed"),
        "control_folder": str(folder / "control"),
        "store_processed": False,
        # An idle worker lists the folder this often; the wait adds half of it to a prediction's latency on average.
        "polling_interval": polling_interval,
    }


class FilesystemChannel(filesystem.Channel):
    def _put(self, queue, payload, **kwargs):
        """Write the message under a name the consumer skips, then rename it into the queue in one step.

        kombu writes the message file in place, and a worker that lists the folder at that moment reads it empty:
        the worker then stopped with a JSONDecodeError (seen once in about 700 uploads in bench_pipeline)."""
        name = f"{round(monotonic() * 1000)}_{uuid.uuid4()}.{queue}.msg"
        final = os.path.join(self.data_folder_out, name)
        partial = f"{final}.partial"  # `_get` takes only names whose part after the first dot is `<queue>.msg`
        try:
            with open(partial, "wb") as handle:
                handle.write(str_to_bytes(dumps(payload)))
            os.replace(partial, final)
        except OSError as error:
            raise filesystem.ChannelError(f"Cannot add file {final!r} to the queue folder") from error

    def _queue_bind(self, exchange, routing_key, pattern, queue):
        """Create a missing exchange table whole, with this binding in it; an existing one gets kombu's locked update.

        kombu creates the table by opening it for writing and only then locking it, so a publisher reading it in
        between read an empty file (JSONDecodeError while a worker starts); a table published without the binding
        would instead route that publisher's message nowhere. A hard link publishes the complete file under the
        name, or fails if another process got there first."""
        table = self._exchange_file(exchange)
        self.control_folder.mkdir(exist_ok=True)
        if not table.exists():
            binding = filesystem.exchange_queue_t(routing_key or "", pattern or "", queue or "")
            partial = table.with_name(f"{table.name}.{uuid.uuid4()}.partial")
            partial.write_bytes(str_to_bytes(dumps([binding])))
            try:
                os.link(partial, table)
                return
            except FileExistsError:
                pass
            finally:
                partial.unlink()
        super()._queue_bind(exchange, routing_key, pattern, queue)


class FilesystemTransport(filesystem.Transport):
    Channel = FilesystemChannel
