"""Celery tasks of charging: result POSTs recorded on the command, sweeper, timeout task."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from roaming.client import PermanentError, TransientError
from sessions_app.choices import CommandResultType, CommandState, CommandType
from sessions_app.models import Command
from sessions_app.tasks import (
    RESULT_MAX_RETRIES,
    command_timeout,
    post_command_result,
    sweep_charging,
)
from tests.roaming.conftest import make_partner
from tests.sessions_app.factories import ReservationFactory

pytestmark = pytest.mark.django_db

URL = "https://emsp.example.com/results/1"


def command(emsp, **changes: Any) -> Command:
    partner, _ = make_partner(parties=[emsp])
    values: dict[str, Any] = {
        "command_type": CommandType.UNLOCK_CONNECTOR,
        "partner": partner,
        "emsp": emsp,
        "version": "2.2.1",
        "response_url": URL,
        "request": {},
        "deadline": timezone.now() + timedelta(seconds=30),
        **changes,
    }
    return Command.objects.create(**values)


def failing(error: Exception):
    def call(*args: Any, **kwargs: Any) -> Any:
        raise error

    return call


def test_a_refused_result_post_is_recorded_and_not_retried(emsp, monkeypatch) -> None:
    monkeypatch.setattr("sessions_app.tasks.call", failing(PermanentError("HTTP 404", url=URL)))
    row = command(emsp, state=CommandState.ANSWERED, result=CommandResultType.ACCEPTED)
    assert post_command_result.apply(args=(row.pk,)).get() == "refused"
    row.refresh_from_db()
    assert (row.result_sent_at, row.result_error, row.result_attempts) == (None, "HTTP 404", 1)


def test_an_unreachable_emsp_is_retried_and_recorded(emsp, monkeypatch) -> None:
    monkeypatch.setattr("sessions_app.tasks.call", failing(TransientError("Timed out", url=URL)))
    row = command(emsp, state=CommandState.ANSWERED, result=CommandResultType.ACCEPTED)
    post_command_result.apply(args=(row.pk,))
    row.refresh_from_db()
    assert row.result_sent_at is None
    assert row.result_error == "Timed out"
    assert row.result_attempts == 1 + RESULT_MAX_RETRIES


def test_a_command_without_result_sends_nothing(emsp, monkeypatch) -> None:
    monkeypatch.setattr("sessions_app.tasks.call", failing(AssertionError("no call expected")))
    row = command(emsp)
    assert post_command_result.apply(args=(row.pk,)).get() == "nothing to send"


def test_the_timeout_task_run_early_leaves_the_command_waiting(emsp) -> None:
    row = command(emsp)
    assert command_timeout.apply(args=(row.pk,)).get() == 0
    row.refresh_from_db()
    assert row.state == CommandState.WAITING


def test_the_sweeper_times_out_late_commands_and_expires_reservations(emsp, monkeypatch) -> None:
    monkeypatch.setattr("sessions_app.tasks.call", failing(PermanentError("x", url=URL)))
    late = command(emsp, deadline=timezone.now() - timedelta(seconds=1))
    ReservationFactory.create(expiry_date=timezone.now() - timedelta(minutes=1))
    assert sweep_charging.apply().get() == {"timed_out": 1, "reservations_expired": 1}
    late.refresh_from_db()
    assert late.result == CommandResultType.TIMEOUT


def test_the_sweeper_is_scheduled_in_celery_beat(db) -> None:
    task = PeriodicTask.objects.get(task="sessions_app.sweep_charging")
    assert task.enabled
    assert task.interval.every == 30
