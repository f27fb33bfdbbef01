"""PostgreSQL connections that read timestamps in C, and a cursor for statements planned once.

Timestamps. Django registers a timestamptz loader of its own on every psycopg connection: psycopg's
pure-Python loader, then a ``replace(tzinfo=...)`` per value. On a connection whose time zone is
UTC (USE_TZ with TIME_ZONE "UTC", ours) psycopg's C loader already returns the same aware
datetimes in ``datetime.timezone.utc``, at a fraction of the cost: a page of 1,000 locations
holds 10,000 timestamps. So such connections get psycopg's own loader back.

Statements planned once. Django binds parameters on the client, so PostgreSQL parses and plans
every statement anew: for the few statements every partner request runs (the state of the
locations, the keys of a page) planning took longer than running them (0.6-0.9 ms against
0.1-0.3 ms). ``prepared_cursor`` binds on the server instead; psycopg prepares a statement once
it has run five times on a connection (and keeps the last hundred), and these connections keep
one generic plan per prepared statement (``plan_cache_mode``). Django's own cursors never
prepare, so the setting reaches only the statements run through ``prepared_cursor``, which must
be ones whose best plan does not depend on the parameter values. (A pooler in transaction mode
in front of PostgreSQL must support prepared statements.)
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC
from functools import cache
from typing import Any

import psycopg
from django.apps import AppConfig
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.backends.signals import connection_created
from django.db.backends.utils import CursorWrapper


def use_psycopg_timestamp_loader(*, connection: Any, **kwargs: Any) -> None:
    """Signal receiver: on a new UTC PostgreSQL connection, psycopg's default (C) loader."""
    if connection.vendor != "postgresql" or connection.timezone_name != "UTC":
        return
    connection.connection.adapters.register_loader("timestamptz", _utc_loader())


# psycopg's default: a statement is prepared once it has run this many times on a connection.
PREPARE_THRESHOLD = 5


def keep_generic_plans(*, connection: Any, **kwargs: Any) -> None:
    """Signal receiver: a new PostgreSQL connection prepares what ``prepared_cursor`` runs
    repeatedly (Django turns preparing off), and plans each prepared statement once."""
    if connection.vendor != "postgresql":
        return
    connection.connection.prepare_threshold = PREPARE_THRESHOLD
    with connection.cursor() as cursor:
        cursor.execute("SET plan_cache_mode = force_generic_plan")


@contextmanager
def prepared_cursor(using: str = DEFAULT_DB_ALIAS) -> Iterator[CursorWrapper]:
    """A cursor whose repeated statements are planned once (see the module docstring); on
    other databases, Django's own cursor. Placeholders are ``%s``."""
    connection: Any = connections[using]  # _prepare_cursor is not in the stubs
    if connection.vendor != "postgresql":
        with connection.cursor() as cursor:
            yield cursor
        return
    connection.ensure_connection()
    # Django's wrapper (error translation, query logging) around a server-binding cursor.
    with connection._prepare_cursor(psycopg.Cursor(connection.connection)) as cursor:
        yield cursor


@cache
def _utc_loader() -> type:
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
        connection_created.connect(keep_generic_plans, dispatch_uid="postgresql-generic-plans")
