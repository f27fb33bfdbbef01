"""The life of an eMSP's command: accepted or refused at once, carried out by the charger, answered.

Every command that is accepted becomes a ``Command`` row and a charger instruction in one
transaction. The synchronous answer carries the timeout; the charger's answer (``command_answer``)
or, when it does not come in time, TIMEOUT (``command_timeout_due``) becomes the result that
``sessions_app.tasks`` POSTs to the eMSP's ``response_url``. A result is final: a charger answering
after the timeout changes nothing.

Refusals that need no charger are answered at once and leave no row: REJECTED for an EVSE that
cannot take the command or a session of another eMSP, UNKNOWN_SESSION for a session we do not
have. Charging profiles follow the same path (their results are ACCEPTED, REJECTED or UNKNOWN).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from locations.choices import Capability
from locations.choices import Status as EvseStatus
from locations.models import EVSE, Connector, Location
from roaming.models import Partner, Party
from sessions_app import services
from sessions_app.choices import (
    ChargerAction,
    ChargingProfileResponseType,
    CommandResponseType,
    CommandResultType,
    CommandState,
    CommandType,
    ReservationStatus,
    SessionStatus,
)
from sessions_app.models import ActiveChargingProfile, ChargerInstruction, Command, Session, Token

# EVSEs in these states cannot carry out a command at all: refused without asking the charger.
_UNUSABLE = frozenset({EvseStatus.REMOVED, EvseStatus.PLANNED})
_PROFILE_COMMANDS = frozenset(
    {
        CommandType.SET_CHARGING_PROFILE,
        CommandType.GET_ACTIVE_CHARGING_PROFILE,
        CommandType.CLEAR_CHARGING_PROFILE,
    }
)


@dataclass(frozen=True)
class CommandReceipt:
    """What an eMSP is told at once: the response type, the timeout, and why when refused."""

    result: str
    timeout: int
    message: str = ""
    command: Command | None = None


@dataclass(frozen=True)
class CommandOrigin:
    """Who sent a command, through which connection, in which version, and where to answer."""

    partner: Partner
    emsp: Party
    version: str
    response_url: str
    request: dict[str, Any]


def command_timeout_seconds() -> int:
    return int(settings.CHARGING_COMMAND_TIMEOUT_SECONDS)


def command_start_session(
    *,
    origin: CommandOrigin,
    token: Token,
    location: Location,
    evse: EVSE | None,
    connector: Connector | None,
    authorization_reference: str = "",
) -> CommandReceipt:
    """START_SESSION: the token comes from its eMSP, which vouches for it (no local check)."""
    if evse is None:
        evse = _free_evse(location)
        if evse is None:
            return _refused("No EVSE of this location can start a session now")
    if evse.status in _UNUSABLE:
        return _refused(f"EVSE {evse.uid} is {evse.status}")
    payload = {
        "token_id": token.pk,
        "connector_id": connector.pk if connector is not None else None,
        "authorization_reference": authorization_reference,
    }
    return _accept(
        origin,
        CommandType.START_SESSION,
        evse=evse,
        action=ChargerAction.START,
        payload=payload,
        location=location,
        connector=connector,
    )


def command_stop_session(*, origin: CommandOrigin, session: Session | None) -> CommandReceipt:
    """STOP_SESSION: only for a session under way of the eMSP that asks."""
    if session is None:
        return CommandReceipt(CommandResponseType.UNKNOWN_SESSION, command_timeout_seconds())
    if session.emsp_id != origin.emsp.pk:
        return _refused("This session is not of a customer of yours")
    if session.status not in (SessionStatus.PENDING, SessionStatus.ACTIVE):
        return _refused(f"The session is {session.status}")
    return _accept(
        origin,
        CommandType.STOP_SESSION,
        evse=session.evse,
        action=ChargerAction.STOP,
        payload={"session_id": session.pk},
        session=session,
        location=session.location,
    )


def command_reserve_now(
    *,
    origin: CommandOrigin,
    token: Token,
    reservation_id: str,
    expiry_date: datetime,
    location: Location,
    evse: EVSE | None,
    authorization_reference: str = "",
) -> CommandReceipt:
    """RESERVE_NOW: hold an EVSE (the given one, or a free one of the location) until expiry."""
    if expiry_date <= timezone.now():
        return _refused("expiry_date is in the past")
    target = evse or _free_evse(location, capability=Capability.RESERVABLE)
    if target is None:
        return _refused("No EVSE of this location can be reserved now")
    if target.status in _UNUSABLE:
        return _refused(f"EVSE {target.uid} is {target.status}")
    payload = {
        "token_id": token.pk,
        "reservation_id": reservation_id,
        "expiry_date": expiry_date.isoformat(),
        "authorization_reference": authorization_reference,
        "whole_location": evse is None,
    }
    return _accept(
        origin,
        CommandType.RESERVE_NOW,
        evse=target,
        action=ChargerAction.RESERVE,
        payload=payload,
        location=location,
    )


def command_cancel_reservation(*, origin: CommandOrigin, reservation_id: str) -> CommandReceipt:
    """CANCEL_RESERVATION of one of the eMSP's own reservations."""
    reservation = services.reservation_find(emsp=origin.emsp, reservation_id=reservation_id)
    if reservation is None or reservation.status != ReservationStatus.RESERVED:
        return _refused(f"No reservation {reservation_id} is held for you")
    evse = reservation.evse or _reserved_evse(reservation.pk)
    if evse is None:
        return _refused("The reserved EVSE is not known")
    return _accept(
        origin,
        CommandType.CANCEL_RESERVATION,
        evse=evse,
        action=ChargerAction.CANCEL_RESERVATION,
        payload={"reservation_id": reservation.pk},
        location=reservation.location,
        reservation=reservation,
    )


def command_unlock_connector(
    *, origin: CommandOrigin, location: Location, evse: EVSE, connector: Connector
) -> CommandReceipt:
    """UNLOCK_CONNECTOR: release a stuck cable."""
    if evse.status in _UNUSABLE:
        return _refused(f"EVSE {evse.uid} is {evse.status}")
    return _accept(
        origin,
        CommandType.UNLOCK_CONNECTOR,
        evse=evse,
        action=ChargerAction.UNLOCK,
        payload={"connector_id": connector.pk},
        location=location,
        connector=connector,
    )


def charging_profile_request(
    *,
    origin: CommandOrigin,
    command_type: CommandType,
    session: Session | None,
    payload: dict[str, Any],
) -> CommandReceipt:
    """Set, get or clear the charging profile of a session under way of the asking eMSP."""
    if command_type not in _PROFILE_COMMANDS:
        raise ValueError(f"{command_type} is not a charging profile request")
    if session is None:
        return CommandReceipt(
            ChargingProfileResponseType.UNKNOWN_SESSION, command_timeout_seconds()
        )
    if session.emsp_id != origin.emsp.pk:
        return _refused("This session is not of a customer of yours")
    if session.status not in (SessionStatus.PENDING, SessionStatus.ACTIVE):
        return _refused(f"The session is {session.status}")
    action = {
        CommandType.SET_CHARGING_PROFILE: ChargerAction.SET_CHARGING_PROFILE,
        CommandType.GET_ACTIVE_CHARGING_PROFILE: ChargerAction.GET_CHARGING_PROFILE,
        CommandType.CLEAR_CHARGING_PROFILE: ChargerAction.CLEAR_CHARGING_PROFILE,
    }[command_type]
    return _accept(
        origin,
        command_type,
        evse=session.evse,
        action=action,
        payload={"session_id": session.pk, **payload},
        session=session,
        location=session.location,
    )


def command_answer(
    *, command_id: int, result: CommandResultType, data: dict[str, Any] | None = None
) -> Command | None:
    """The charger answered: record the outcome, apply it, and queue the result POST.

    A command already answered or timed out stays as it is (its result was given).
    """
    with transaction.atomic():
        command = (
            Command.objects.select_for_update(of=("self",))
            .select_related("session", "reservation", "emsp", "location", "evse")
            .filter(pk=command_id)
            .first()
        )
        if command is None or command.state != CommandState.WAITING:
            return command
        command.state = CommandState.ANSWERED
        command.result = result
        command.result_data = data
        command.answered_at = timezone.now()
        if result == CommandResultType.ACCEPTED:
            _apply(command, data or {})
        command.save()
        _queue_result(command)
    return command


def command_session_started(*, command_id: int, session: Session) -> None:
    """The session a START_SESSION produced is linked to it (admin shows one from the other)."""
    Command.objects.filter(pk=command_id, command_type=CommandType.START_SESSION).update(
        session=session
    )


def command_timeout_due(*, now: datetime | None = None, command_id: int | None = None) -> int:
    """Give TIMEOUT to every waiting command past its deadline (or just ``command_id``)."""
    now = now or timezone.now()
    with transaction.atomic():
        due = Command.objects.select_for_update(skip_locked=True).filter(
            state=CommandState.WAITING, deadline__lte=now
        )
        if command_id is not None:
            due = due.filter(pk=command_id)
        commands = list(due)
        for command in commands:
            command.state = CommandState.TIMED_OUT
            command.result = _timeout_result(command)
            command.answered_at = now
            command.save(update_fields=["state", "result", "answered_at"])
            # The charger never took (or never answered) it: it must not act on it later.
            ChargerInstruction.objects.filter(command=command, taken_at__isnull=True).update(
                taken_at=now
            )
            _queue_result(command)
    return len(commands)


# --- helpers ---------------------------------------------------------------------------------------


def _refused(message: str) -> CommandReceipt:
    return CommandReceipt(CommandResponseType.REJECTED, command_timeout_seconds(), message)


def _accept(
    origin: CommandOrigin,
    command_type: CommandType,
    *,
    evse: EVSE,
    action: ChargerAction,
    payload: dict[str, Any],
    location: Location | None = None,
    connector: Connector | None = None,
    session: Session | None = None,
    reservation: Any = None,
) -> CommandReceipt:
    from sessions_app.gateway.port import gateway  # the port calls back into this module

    timeout = command_timeout_seconds()
    with transaction.atomic():
        command = Command.objects.create(
            command_type=command_type,
            partner=origin.partner,
            emsp=origin.emsp,
            version=origin.version,
            response_url=origin.response_url,
            request=origin.request,
            location=location or evse.location,
            evse=evse,
            connector=connector,
            session=session,
            reservation=reservation,
            deadline=timezone.now() + timedelta(seconds=timeout),
        )
        gateway().instruct(evse=evse, action=action, payload=payload, command=command)
        transaction.on_commit(lambda: _schedule_timeout(command.pk, timeout))
    return CommandReceipt(CommandResponseType.ACCEPTED, timeout, command=command)


def _schedule_timeout(command_id: int, timeout: int) -> None:
    from sessions_app.tasks import command_timeout  # tasks import this module

    command_timeout.apply_async((command_id,), countdown=timeout)


def _queue_result(command: Command) -> None:
    from sessions_app.tasks import post_command_result  # tasks import this module

    command_pk = command.pk
    transaction.on_commit(lambda: post_command_result.delay(command_pk))


def _timeout_result(command: Command) -> CommandResultType:
    if command.command_type == CommandType.GET_ACTIVE_CHARGING_PROFILE:
        return CommandResultType.UNKNOWN
    if command.command_type in _PROFILE_COMMANDS:
        return CommandResultType.REJECTED
    return CommandResultType.TIMEOUT


def _free_evse(location: Location, capability: str | None = None) -> EVSE | None:
    evses = EVSE.objects.filter(location=location, status=EvseStatus.AVAILABLE).order_by("pk")
    candidates = list(evses)
    if capability is not None:
        candidates = [e for e in candidates if capability in (e.capabilities or [])]
    return candidates[0] if candidates else None


def _reserved_evse(reservation_pk: int) -> EVSE | None:
    instruction = (
        ChargerInstruction.objects.select_related("evse")
        .filter(
            action=ChargerAction.RESERVE,
            command__reservation_id=reservation_pk,
        )
        .order_by("-created_at")
        .first()
    )
    return instruction.evse if instruction is not None else None


def _apply(command: Command, data: dict[str, Any]) -> None:
    """What an accepted command changes on our side (sessions are the charger's to report)."""
    if command.command_type == CommandType.RESERVE_NOW:
        instruction = command.instructions.order_by("created_at").first()
        if instruction is None or command.location is None or command.evse is None:
            return
        asked = instruction.payload
        command.reservation = services.reservation_create(
            emsp=command.emsp,
            token=Token.objects.get(pk=asked["token_id"]),
            reservation_id=str(asked["reservation_id"]),
            location=command.location,
            evse=None if asked.get("whole_location") else command.evse,
            held_at=command.evse,
            expiry_date=datetime.fromisoformat(asked["expiry_date"]),
            authorization_reference=str(asked.get("authorization_reference") or ""),
        )
    elif command.command_type == CommandType.CANCEL_RESERVATION and command.reservation:
        services.reservation_cancel(reservation=command.reservation)
    elif command.command_type == CommandType.SET_CHARGING_PROFILE and command.session:
        ActiveChargingProfile.objects.update_or_create(
            session=command.session,
            defaults={
                "start_date_time": command.answered_at or timezone.now(),
                "charging_profile": data.get("charging_profile") or {},
            },
        )
    elif command.command_type == CommandType.CLEAR_CHARGING_PROFILE and command.session:
        ActiveChargingProfile.objects.filter(session=command.session).delete()
