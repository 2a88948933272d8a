import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "skintrack.settings.local")

app = Celery("skintrack")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
