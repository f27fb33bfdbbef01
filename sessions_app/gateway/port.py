"""The charger port: instructions out to chargers, and the events chargers report back in.

Out: ``ChargerGateway`` is what the rest of the system calls to instruct a charger. The one built
in, ``MailboxGateway``, queues each instruction as a ``ChargerInstruction`` row in the caller's
transaction (so an instruction exists exactly when the command that caused it does); the process
that speaks to the chargers (an OCPP adapter, or the simulator) takes the rows and carries them
out. Every instruction that answers a command names it, and the charger's answer comes back as a
``command_outcome`` event.

In: the functions below are the only way a charger changes our state. They hand over to the
services of sessions_app (and commands), which apply the rules and tell partners.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any, Protocol

from django.db import transaction
from django.utils import timezone

from locations.models import EVSE, Connector
from sessions_app import commands, services
from sessions_app.authorization import AuthorizationDecision, token_authorize
from sessions_app.choices import ChargerAction, CommandResultType
from sessions_app.models import ChargerInstruction, Command, Session, Token


class ChargerGateway(Protocol):
    """Instructions to chargers; each is carried out later and answered by an event."""

    def instruct(
        self,
        *,
        evse: EVSE,
        action: ChargerAction,
        payload: dict[str, Any],
        command: Command | None = None,
    ) -> None: ...


class MailboxGateway:
    """Queues instructions as rows for the charger-side process to take (see ``take``)."""

    def instruct(
        self,
        *,
        evse: EVSE,
        action: ChargerAction,
        payload: dict[str, Any],
        command: Command | None = None,
    ) -> None:
        ChargerInstruction.objects.create(
            evse=evse, action=action, payload=payload, command=command
        )

    @staticmethod
    def take(*, evse_ids: Sequence[int], now: datetime | None = None) -> list[ChargerInstruction]:
        """Claim the instructions waiting for these EVSEs, oldest first (each is taken once)."""
        with transaction.atomic():
            waiting = list(
                ChargerInstruction.objects.select_for_update(skip_locked=True, of=("self",))
                .select_related("command")
                .filter(evse_id__in=evse_ids, taken_at__isnull=True)
                .order_by("created_at", "id")
            )
            if waiting:
                ChargerInstruction.objects.filter(pk__in=[i.pk for i in waiting]).update(
                    taken_at=now or timezone.now()
                )
        return waiting


_gateway: ChargerGateway = MailboxGateway()


def gateway() -> ChargerGateway:
    """The gateway in use."""
    return _gateway


# --- events in -------------------------------------------------------------------------------------


def evse_status_changed(*, evse: EVSE, status: str) -> None:
    """The charger's EVSE changed status (available, charging, out of order...)."""
    services.evse_status_report(evse=evse, status=status)


def evse_statuses_changed(*, reports: Sequence[tuple[EVSE, str]]) -> int:
    """Status changes of several EVSEs that arrived together, applied at once; returns how many
    changed. For a charger-side process that takes status notifications in batches."""
    return services.evse_statuses_report(reports=reports)


def authorize_request(*, evse: EVSE, uid: str, token_type: str) -> AuthorizationDecision:
    """A driver presented a token at the charger: may it charge here?"""
    return token_authorize(uid=uid, token_type=token_type, location=evse.location, evse=evse)


def session_started(
    *,
    connector: Connector,
    token: Token,
    auth_method: str,
    at: datetime,
    authorization_reference: str = "",
    meter_id: str = "",
    command_id: int | None = None,
) -> Session:
    """The charger began a session for an authorized token (on a START_SESSION: ``command_id``)."""
    with transaction.atomic():
        session = services.session_start(
            connector=connector,
            token=token,
            auth_method=auth_method,
            started_at=at,
            authorization_reference=authorization_reference,
            meter_id=meter_id,
        )
        if command_id is not None:
            commands.command_session_started(command_id=command_id, session=session)
    return session


def meter_values(
    *,
    session_id: int,
    at: datetime,
    kwh: Decimal,
    power_kw: Decimal,
    state_of_charge: int | None = None,
) -> Session:
    """The charger's meter: energy since the session started, power now, the vehicle's SoC."""
    return services.session_meter_update(
        session=Session(pk=session_id),
        at=at,
        kwh=kwh,
        power_kw=power_kw,
        state_of_charge=state_of_charge,
    )


def session_stopped(*, session_id: int, at: datetime, kwh: Decimal | None = None) -> Session:
    """The charger ended the session (stopped remotely, by the driver, or by a fault)."""
    return services.session_stop(session=Session(pk=session_id), at=at, kwh=kwh)


def command_outcome(
    *, command_id: int, result: CommandResultType, data: dict[str, Any] | None = None
) -> None:
    """The charger's answer to an instruction that carried out a command."""
    commands.command_answer(command_id=command_id, result=result, data=data)
