"""The embedded broker's transport options, shared by the settings and the queue tests."""

from pathlib import Path

FOLDER_OPTIONS = ("data_folder_in", "data_folder_out", "processed_folder", "control_folder")


def filesystem_transport_options(folder: Path, *, polling_interval: float) -> dict:
    """kombu's filesystem transport with every message kept under `folder`: a broker that needs no server."""
    return {
        "data_folder_in": str(folder / "queue"),
        "data_folder_out": str(folder / "queue"),
        "processed_folder": str(folder / "processed"),
        "control_folder": str(folder / "control"),
        "store_processed": False,
        # An idle worker lists the folder this often; the wait adds half of it to a prediction's latency on average.
        "polling_interval": polling_interval,
    }
