"""Celery tasks of charging: command results to eMSPs, command timeouts, reservation expiry.

Tasks take ids, re-read the row and are idempotent: a result is POSTed until it has been
delivered once; a timeout task that runs early (or twice) finds nothing due. Delivery failures
are kept on the command row (visible in admin), with bounded retries and backoff for the
transient ones.
"""

from __future__ import annotations

import logging
from typing import Any

from celery import shared_task
from django.db import DatabaseError
from django.utils import timezone

from roaming.choices import OcpiVersion
from roaming.client import PermanentError, TransientError, call
from roaming.modules.chargingprofiles.serializers import profile_result_to_ocpi
from roaming.modules.commands.serializers import command_result_to_ocpi
from roaming.push.payloads import routing_headers
from sessions_app.choices import CommandType
from sessions_app.commands import command_timeout_due
from sessions_app.models import Command
from sessions_app.services import reservation_expire_due

logger = logging.getLogger(__name__)

RESULT_MAX_RETRIES = 6
_PROFILE_COMMANDS = frozenset(
    {
        CommandType.SET_CHARGING_PROFILE,
        CommandType.GET_ACTIVE_CHARGING_PROFILE,
        CommandType.CLEAR_CHARGING_PROFILE,
    }
)


@shared_task(
    bind=True,
    name="sessions_app.post_command_result",
    ignore_result=True,
    soft_time_limit=45,
    time_limit=60,
    max_retries=RESULT_MAX_RETRIES,
)
def post_command_result(self: Any, command_id: int) -> str:
    """POST a command's result to the eMSP's response_url, once."""
    command = (
        Command.objects.select_related("partner", "emsp", "location__owner")
        .filter(pk=command_id)
        .first()
    )
    if command is None or not command.result or command.result_sent_at is not None:
        return "nothing to send"
    if command.partner is None:
        _record(command, "The connection this command came through is gone.")
        return "no connection"
    body = (
        profile_result_to_ocpi(command)
        if command.command_type in _PROFILE_COMMANDS
        else command_result_to_ocpi(command)
    )
    version = OcpiVersion(command.version)
    cpo = command.location.owner if command.location is not None else None
    headers = routing_headers(version, cpo, command.emsp) if cpo is not None else {}
    try:
        call(
            "POST",
            command.response_url,
            partner=command.partner,
            version=version,
            json=body,
            headers=headers,
        )
    except TransientError as error:
        _record(command, error.message)
        if self.request.retries >= RESULT_MAX_RETRIES:
            return "gave up"
        raise self.retry(countdown=min(600, 10 * 2**self.request.retries)) from error
    except PermanentError as error:
        _record(command, error.message)
        return "refused"
    Command.objects.filter(pk=command.pk).update(
        result_sent_at=timezone.now(),
        result_attempts=command.result_attempts + 1,
        result_error="",
    )
    return "sent"


@shared_task(
    name="sessions_app.command_timeout",
    ignore_result=True,
    autoretry_for=(DatabaseError,),
    max_retries=3,
    soft_time_limit=25,
    time_limit=30,
)
def command_timeout(command_id: int) -> int:
    """At a command's deadline: TIMEOUT unless the charger answered (early runs do nothing)."""
    return command_timeout_due(command_id=command_id)


@shared_task(
    name="sessions_app.sweep_charging",
    ignore_result=True,
    autoretry_for=(DatabaseError,),
    max_retries=2,
    soft_time_limit=25,
    time_limit=30,
)
def sweep_charging() -> dict[str, int]:
    """Periodic: commands past their deadline (a lost countdown task), expired reservations."""
    now = timezone.now()
    return {
        "timed_out": command_timeout_due(now=now),
        "reservations_expired": len(reservation_expire_due(now=now)),
    }


def _record(command: Command, error: str) -> None:
    Command.objects.filter(pk=command.pk).update(
        result_attempts=command.result_attempts + 1, result_error=error[:2000]
    )
