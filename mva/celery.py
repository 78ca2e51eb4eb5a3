"""The Celery application. Configuration lives in settings (CELERY_* names)."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mva.settings")

app = Celery("mva")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
