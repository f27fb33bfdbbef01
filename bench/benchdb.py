"""The benchmark's own Postgres database: named in DATABASE_URL, created when missing.

Only a database whose name contains "bench" is ever used, so a benchmark cannot touch `test`
or a real database.
"""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

import psycopg


def database_name(url: str) -> str:
    return urlsplit(url).path.lstrip("/")


def database_ensure(url: str) -> None:
    name = database_name(url)
    if name == "test" or "bench" not in name:
        raise SystemExit(f"Refusing to use database {name!r}: its name must contain 'bench'.")
    maintenance = urlunsplit(urlsplit(url)._replace(path="/postgres"))
    with psycopg.connect(maintenance, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')
