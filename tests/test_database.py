"""PostgreSQL connections read timestamps with psycopg's own loader, and read them right; the
prepared cursor plans a repeated statement once."""

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


def test_a_statement_run_through_the_prepared_cursor_is_planned_once() -> None:
    from cpms.database import PREPARE_THRESHOLD, prepared_cursor

    # Run unprepared PREPARE_THRESHOLD times, then prepared: twice with the one generic plan.
    for number in range(PREPARE_THRESHOLD + 2):
        with prepared_cursor() as cursor:
            cursor.execute("SELECT COUNT(*) + %s FROM locations_location", [number])
            assert cursor.fetchone() == (number,)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT generic_plans, custom_plans FROM pg_prepared_statements"
            " WHERE statement LIKE 'SELECT COUNT(*) + $1 FROM locations_location'"
        )
        assert cursor.fetchall() == [(2, 0)]


def test_djangos_own_cursors_prepare_nothing() -> None:
    for _ in range(10):
        list(Location.objects.filter(ocpi_id="LOC1"))
    with connection.cursor() as cursor:
        cursor.execute("SELECT COUNT(*) FROM pg_prepared_statements")
        assert cursor.fetchone() == (0,)
