"""Fixtures of the isolation matrix: the world (``world.py``), built once per module."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.db import transaction

from tests.isolation.world import CASE_COUNTS, World, build_world


@pytest.fixture(scope="module")
def world(django_db_setup: None, django_db_blocker: Any) -> Iterator[World]:
    with django_db_blocker.unblock(), transaction.atomic():
        yield build_world()
        transaction.set_rollback(True)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Print how many isolation cases ran, per object kind and channel."""
    if not CASE_COUNTS:
        return
    total = sum(CASE_COUNTS.values())
    terminalreporter.write_line(f"isolation: {total} cases")
    for (kind, channel), count in sorted(CASE_COUNTS.items()):
        terminalreporter.write_line(f"  {kind:<16} {channel:<8} {count}")
