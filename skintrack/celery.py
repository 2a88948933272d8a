import os
from pathlib import Path

from celery import Celery

from skintrack.broker import FOLDER_OPTIONS

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "skintrack.settings.local")

app = Celery("skintrack")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@app.on_after_configure.connect
def create_filesystem_broker_folders(sender: Celery, **kwargs) -> None:
    """The embedded broker's folders must exist before the web process sends or the worker polls."""
    if not str(sender.conf.broker_url).startswith("filesystem://"):
        return
    options = sender.conf.broker_transport_options or {}
    for key in FOLDER_OPTIONS:
        if key in options:
            Path(options[key]).mkdir(parents=True, exist_ok=True)
