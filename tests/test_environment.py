"""The suite runs against the database and broker the environment names (CI: Postgres + Redis)."""

import os

from django.conf import settings
from django.db import connection


def test_database_is_the_one_configured(db: None) -> None:
    expected = (
        "postgresql" if os.environ.get("DATABASE_URL", "").startswith("postgres") else "sqlite"
    )
    assert connection.vendor == expected


def test_broker_is_the_one_configured() -> None:
    url = os.environ.get("CELERY_BROKER_URL") or "filesystem://"
    assert url == settings.CELERY_BROKER_URL
