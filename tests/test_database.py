"""PostgreSQL connections read timestamps with psycopg's own loader, and read them right."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.db import connection

from locations.models import Location
from tests.locations.factories import LocationFactory

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="psycopg's loaders"),
]


def test_timestamps_come_back_as_the_same_aware_utc_datetimes() -> None:
    written = datetime(2026, 3, 29, 1, 59, 59, 123456, tzinfo=UTC)
    location = LocationFactory.create()
    Location.objects.filter(pk=location.pk).update(last_updated=written)

    read = Location.objects.values_list("last_updated", flat=True).get(pk=location.pk)

    assert read == written
    assert read.tzinfo is UTC
    assert read.isoformat() == "2026-03-29T01:59:59.123456+00:00"


def test_the_loader_is_psycopgs_own() -> None:
    import psycopg

    connection.ensure_connection()
    oid = psycopg.postgres.types["timestamptz"].oid
    loader = connection.connection.adapters.get_loader(oid, psycopg.pq.Format.TEXT)

    assert loader is not None
    assert loader.__name__ == "UtcTimestamptzLoader"
    assert isinstance(loader(oid)._default, psycopg.adapters.get_loader(oid, 0))  # type: ignore[arg-type]
