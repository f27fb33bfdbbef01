"""The CPMS Django project: settings, URLs, the Celery app and the WSGI/ASGI entry points."""

import cpms.lookups  # noqa: F401  (registers the `ci` lookup before any model is queried)
from cpms.celery import app as celery_app

__all__ = ["celery_app"]
