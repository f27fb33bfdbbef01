"""WSGI entry point (gunicorn cpms.wsgi)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cpms.settings")
application = get_wsgi_application()
