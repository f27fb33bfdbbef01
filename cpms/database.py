"""PostgreSQL connections that read timestamps in C.

Django registers a timestamptz loader of its own on every psycopg connection: psycopg's
pure-Python loader, then a ``replace(tzinfo=...)`` per value. On a connection whose time zone is
UTC (USE_TZ with TIME_ZONE "UTC", ours) psycopg's C loader already returns the same aware
datetimes in ``datetime.timezone.utc``, at a fraction of the cost: a page of 1,000 locations
holds 10,000 timestamps. So such connections get psycopg's own loader back.
"""

from __future__ import annotations

from datetime import UTC
from functools import cache
from typing import Any

from django.apps import AppConfig
from django.db.backends.signals import connection_created


def use_psycopg_timestamp_loader(*, connection: Any, **kwargs: Any) -> None:
    """Signal receiver: on a new UTC PostgreSQL connection, psycopg's default (C) loader."""
    if connection.vendor != "postgresql" or connection.timezone_name != "UTC":
        return
    connection.connection.adapters.register_loader("timestamptz", _utc_loader())


@cache
def _utc_loader() -> type:
    import psycopg
    from psycopg.adapt import Loader

    found = psycopg.adapters.get_loader(
        psycopg.postgres.types["timestamptz"].oid, psycopg.pq.Format.TEXT
    )
    assert found is not None
    default: Any = found

    class UtcTimestamptzLoader(Loader):
        """psycopg's own loader (its C class cannot be subclassed), with the ``timezone`` that
        Django compares with its own before every cursor."""

        timezone = UTC

        def __init__(self, oid: int, context: Any = None) -> None:
            super().__init__(oid, context)
            self._default = default(oid, context)

        def load(self, data: Any) -> Any:
            return self._default.load(data)

    return UtcTimestamptzLoader


class DatabaseConfig(AppConfig):
    """Installed as "cpms.database.DatabaseConfig"."""

    name = "cpms.database"
    label = "cpms_database"
    verbose_name = "Database connections"

    def ready(self) -> None:
        connection_created.connect(use_psycopg_timestamp_loader, dispatch_uid="psycopg-timestamps")
