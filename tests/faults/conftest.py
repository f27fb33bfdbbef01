"""Fixtures of the fault tests: a misbehaving receiver, short client timeouts, loud failures."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from cpms.celery import app as celery_app
from roaming.models import Partner, Party
from tests.faults.partner import FaultyReceiver
from tests.roaming.push.conftest import connect

# The client's read timeout in the partner fault tests; a "late" partner answers after it.
READ_TIMEOUT = 0.4


@pytest.fixture
def peer() -> Iterator[FaultyReceiver]:
    running = FaultyReceiver()
    with running:
        yield running
        running.release_cdr_posts()


@pytest.fixture
def receiver(peer: FaultyReceiver, emsp: Party) -> Partner:
    """A registered OCPI 2.2.1 connection to the faulty receiver, speaking for DE-EMS."""
    return connect(peer, parties=[emsp])


@pytest.fixture(autouse=True)
def _short_timeouts(settings: pytest.FixtureRequest) -> None:
    settings.OCPI_CLIENT_READ_TIMEOUT = READ_TIMEOUT  # type: ignore[attr-defined]
    settings.OCPI_CLIENT_CONNECT_TIMEOUT = READ_TIMEOUT  # type: ignore[attr-defined]


@pytest.fixture(autouse=True)
def _no_unhandled_errors(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """An exception in a task (run eagerly) surfaces, and nothing may log an ERROR."""
    propagates = celery_app.conf.task_eager_propagates
    celery_app.conf.task_eager_propagates = True
    caplog.set_level(logging.WARNING)
    try:
        yield
    finally:
        celery_app.conf.task_eager_propagates = propagates
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert errors == [], [f"{r.name}: {r.getMessage()}\n{r.exc_text or ''}" for r in errors]
