"""A simulated fleet of chargers behind the gateway port, on a clock of its own.

Each simulated charger is one EVSE. It takes its instructions from the mailbox, answers them
(command outcomes), and reports what happens through the port's events: status changes, sessions
starting and stopping, meter values. Vehicles charge along simple curves:

* AC: the connector's power (voltage x amperage x phases, or its max power), capped by the
  vehicle's on-board charger, flat until the battery is nearly full.
* DC: the vehicle's peak power up to 50 % state of charge, then tapering linearly to a tenth of it
  at 100 %.

Both are capped by the session's charging profile (W or A, per profile period). A full battery
draws nothing: the session goes on as parking until the driver leaves. Drivers may arrive on
their own (RFID at the charger), chargers may fault or go offline (instructions then go
unanswered and time out). Randomness comes from a seeded ``random.Random``; time from the
simulator's clock, which a test advances by hand and the management command runs faster than
real time.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from functools import partial
from typing import Any

from locations.choices import PowerType
from locations.choices import Status as EvseStatus
from locations.models import EVSE, Connector
from sessions_app.choices import (
    AuthMethod,
    ChargerAction,
    CommandResultType,
    SessionStatus,
    TokenType,
)
from sessions_app.gateway import port
from sessions_app.gateway.port import MailboxGateway
from sessions_app.models import ChargerInstruction, Session, Token
from sessions_app.services import SessionStateError

logger = logging.getLogger(__name__)

_KWH = Decimal("0.0001")
_KW = Decimal("0.001")
_DC_TAPER_FROM = 0.5
_DC_TAPER_TO = 0.1
_RESERVED_DRIVER_WITHIN = timedelta(minutes=30)


@dataclass
class Vehicle:
    """A car at a charger: battery size, state of charge, and what it can take."""

    battery_kwh: float = 60.0
    soc: float = 0.3
    max_ac_kw: float = 11.0
    max_dc_kw: float = 120.0
    leave_when_full_after: timedelta | None = None  # drivers who leave on their own

    def accepted_kw(self, dc: bool) -> float:
        """What the car draws given the chance, by its charge curve."""
        if self.soc >= 1.0:
            return 0.0
        if not dc:
            return self.max_ac_kw if self.soc < 0.97 else self.max_ac_kw * 0.3
        if self.soc <= _DC_TAPER_FROM:
            return self.max_dc_kw
        share = (self.soc - _DC_TAPER_FROM) / (1.0 - _DC_TAPER_FROM)
        return self.max_dc_kw * (1.0 - share * (1.0 - _DC_TAPER_TO))


@dataclass
class ConnectorSpec:
    """What a connector can deliver."""

    pk: int
    dc: bool
    max_kw: float
    volts: float
    phases: int


@dataclass
class SimCharger:
    """One simulated EVSE and what is happening at it."""

    evse: EVSE
    connectors: list[ConnectorSpec]
    status: str = EvseStatus.AVAILABLE
    vehicle: Vehicle | None = None
    connector: ConnectorSpec | None = None
    session_id: int | None = None
    kwh: float = 0.0
    power_kw: float = 0.0
    profile: dict[str, Any] | None = None
    profile_start: datetime | None = None
    reserved_for: int | None = None  # token pk
    reserved_until: datetime | None = None
    full_since: datetime | None = None
    metered_at: datetime | None = None
    offline_until: datetime | None = None
    faulted_until: datetime | None = None
    pending_outcomes: list[tuple[int, CommandResultType, dict[str, Any] | None]] = field(
        default_factory=list
    )

    @property
    def offline(self) -> bool:
        return self.offline_until is not None

    def connector_spec(self, pk: int | None) -> ConnectorSpec:
        if pk is not None:
            for spec in self.connectors:
                if spec.pk == pk:
                    return spec
        return self.connectors[0]


class Clock:
    """Simulated time: starts at ``start`` and moves when told (tests) or with real time x speed."""

    def __init__(self, start: datetime, *, speed: float = 1.0, real: Callable[[], float] | None):
        self._start = start
        self._speed = speed
        self._real = real
        self._real_start = real() if real else 0.0
        self._manual = start

    def now(self) -> datetime:
        if self._real is None:
            return self._manual
        elapsed = (self._real() - self._real_start) * self._speed
        return self._start + timedelta(seconds=elapsed)

    def advance(self, delta: timedelta) -> None:
        if self._real is not None:
            raise RuntimeError("A real-time clock moves by itself")
        self._manual += delta


def connector_spec(connector: Connector) -> ConnectorSpec:
    dc = connector.power_type == PowerType.DC
    phases = 3 if connector.power_type == PowerType.AC_3_PHASE else 1
    volts = float(connector.max_voltage)
    max_w = float(connector.max_electric_power or volts * connector.max_amperage * phases)
    return ConnectorSpec(connector.pk, dc, max_w / 1000.0, volts, phases)


def profile_limit_kw(
    profile: dict[str, Any], started: datetime, now: datetime, spec: ConnectorSpec
) -> float | None:
    """The limit a charging profile sets at ``now`` (kW), None when it sets none."""
    start = started
    if profile.get("start_date_time"):
        start = datetime.fromisoformat(str(profile["start_date_time"]).replace("Z", "+00:00"))
    elapsed = (now - start).total_seconds()
    if elapsed < 0:
        return None
    duration = profile.get("duration")
    if duration is not None and elapsed >= float(duration):
        return None
    limit: float | None = None
    for period in sorted(
        profile.get("charging_profile_period") or [], key=lambda p: p["start_period"]
    ):
        if float(period["start_period"]) <= elapsed:
            limit = float(period["limit"])
    if limit is None:
        return None
    if profile.get("charging_rate_unit") == "A":
        return limit * spec.volts * spec.phases / 1000.0
    return limit / 1000.0


class Simulator:
    """Chargers of some EVSEs, driven step by step."""

    def __init__(
        self,
        evses: Iterable[EVSE],
        *,
        clock: Clock,
        rng: random.Random | None = None,
        arrivals_per_hour: float = 0.0,
        fault_chance: float = 0.0,
        offline_chance: float = 0.0,
        vehicle_factory: Callable[[random.Random], Vehicle] | None = None,
    ) -> None:
        self.clock = clock
        self.rng = rng or random.Random(0)
        self.arrivals_per_hour = arrivals_per_hour
        self.fault_chance = fault_chance
        self.offline_chance = offline_chance
        self.vehicle_factory = vehicle_factory or _random_vehicle
        self.chargers: dict[int, SimCharger] = {}
        for evse in evses:
            specs = [connector_spec(c) for c in evse.connectors.all()]
            if specs:
                self.chargers[evse.pk] = SimCharger(evse=evse, connectors=specs, status=evse.status)
        self._adopt_sessions()
        self.next_vehicle: Vehicle | None = None  # the car a remote start will find plugged in

    # --- the loop ---

    def step(self, seconds: float) -> None:
        """Move time on by ``seconds`` and let every charger act."""
        dt = timedelta(seconds=seconds)
        self.clock.advance(dt)
        self.run_once(dt)

    def run_once(self, dt: timedelta) -> None:
        now = self.clock.now()
        instructions = MailboxGateway.take(evse_ids=self._online_ids(), now=now)
        for instruction in instructions:
            charger = self.chargers[instruction.evse_id]
            self._safely(charger, partial(self._carry_out, charger, instruction, now))
        for charger in self.chargers.values():
            self._safely(charger, partial(self._live, charger, dt, now))
        self._drivers_arrive(dt, now)

    def _safely(self, charger: SimCharger, act: Callable[[], None]) -> None:
        """A charger our services refuse (a session changed elsewhere) is reset, not fatal."""
        try:
            act()
        except SessionStateError as error:
            logger.warning("Charger %s out of step, reset: %s", charger.evse, error)
            charger.session_id = None
            charger.vehicle = charger.connector = None
            charger.power_kw = charger.kwh = 0.0
            charger.metered_at = None

    # --- instructions ---

    Outcome = tuple[CommandResultType, dict[str, Any] | None, Callable[[], None] | None]

    def _carry_out(
        self, charger: SimCharger, instruction: ChargerInstruction, now: datetime
    ) -> None:
        handlers: dict[
            ChargerAction, Callable[[SimCharger, dict[str, Any], datetime], Simulator.Outcome]
        ]
        handlers = {
            ChargerAction.START: partial(self._start, command_id=instruction.command_id),
            ChargerAction.STOP: self._stop,
            ChargerAction.RESERVE: self._reserve,
            ChargerAction.CANCEL_RESERVATION: self._cancel_reservation,
            ChargerAction.UNLOCK: self._unlock,
            ChargerAction.SET_CHARGING_PROFILE: self._set_profile,
            ChargerAction.GET_CHARGING_PROFILE: self._get_profile,
            ChargerAction.CLEAR_CHARGING_PROFILE: self._clear_profile,
        }
        handler = handlers[ChargerAction(instruction.action)]
        result, data, after = handler(charger, instruction.payload, now)
        if instruction.command_id is not None:
            port.command_outcome(command_id=instruction.command_id, result=result, data=data)
        if after is not None:
            after()

    def _start(
        self,
        charger: SimCharger,
        payload: dict[str, Any],
        now: datetime,
        *,
        command_id: int | None = None,
    ) -> Outcome:
        if charger.status in (EvseStatus.OUTOFORDER, EvseStatus.INOPERATIVE):
            return CommandResultType.EVSE_INOPERATIVE, None, None
        token = Token.objects.select_related("owner").get(pk=payload["token_id"])
        if charger.session_id is not None or (
            charger.reserved_for is not None and charger.reserved_for != token.pk
        ):
            return CommandResultType.EVSE_OCCUPIED, None, None
        spec = charger.connector_spec(payload.get("connector_id"))
        vehicle = self.next_vehicle or self.vehicle_factory(self.rng)
        self.next_vehicle = None

        def begin() -> None:
            self._begin_session(
                charger,
                spec,
                vehicle,
                token,
                AuthMethod.COMMAND,
                str(payload.get("authorization_reference") or ""),
                now,
                command_id=command_id,
            )

        return CommandResultType.ACCEPTED, None, begin

    def _stop(self, charger: SimCharger, payload: dict[str, Any], now: datetime) -> Outcome:
        if charger.session_id != payload["session_id"]:
            return CommandResultType.REJECTED, None, None
        return CommandResultType.ACCEPTED, None, lambda: self._end_session(charger, now)

    def _reserve(self, charger: SimCharger, payload: dict[str, Any], now: datetime) -> Outcome:
        if charger.status in (EvseStatus.OUTOFORDER, EvseStatus.INOPERATIVE):
            return CommandResultType.EVSE_INOPERATIVE, None, None
        if charger.session_id is not None or charger.vehicle is not None:
            return CommandResultType.EVSE_OCCUPIED, None, None
        if charger.reserved_for is not None and charger.reserved_for != payload["token_id"]:
            return CommandResultType.EVSE_OCCUPIED, None, None
        charger.reserved_for = int(payload["token_id"])
        charger.reserved_until = datetime.fromisoformat(payload["expiry_date"])
        return CommandResultType.ACCEPTED, None, lambda: self._status(charger, EvseStatus.RESERVED)

    def _cancel_reservation(
        self, charger: SimCharger, payload: dict[str, Any], now: datetime
    ) -> Outcome:
        if charger.reserved_for is None:
            return CommandResultType.UNKNOWN_RESERVATION, None, None
        charger.reserved_for = charger.reserved_until = None
        return CommandResultType.ACCEPTED, None, lambda: self._status(charger, EvseStatus.AVAILABLE)

    def _unlock(self, charger: SimCharger, payload: dict[str, Any], now: datetime) -> Outcome:
        if not any(spec.pk == payload["connector_id"] for spec in charger.connectors):
            return CommandResultType.REJECTED, None, None
        return CommandResultType.ACCEPTED, None, None

    def _set_profile(self, charger: SimCharger, payload: dict[str, Any], now: datetime) -> Outcome:
        if charger.session_id != payload["session_id"]:
            return CommandResultType.REJECTED, None, None
        charger.profile = payload["charging_profile"]
        charger.profile_start = now
        return CommandResultType.ACCEPTED, {"charging_profile": charger.profile}, None

    def _get_profile(self, charger: SimCharger, payload: dict[str, Any], now: datetime) -> Outcome:
        if charger.session_id != payload["session_id"] or charger.connector is None:
            return CommandResultType.UNKNOWN, None, None
        limit_kw = self._limit_kw(charger, charger.connector, now)
        profile = {
            "start_date_time": now.astimezone(UTC).isoformat(timespec="seconds"),
            "charging_profile": {
                "charging_rate_unit": "W",
                "duration": int(payload.get("duration") or 0) or None,
                "charging_profile_period": [{"start_period": 0, "limit": round(limit_kw * 1000)}],
            },
        }
        return CommandResultType.ACCEPTED, {"profile": profile}, None

    def _clear_profile(
        self, charger: SimCharger, payload: dict[str, Any], now: datetime
    ) -> Outcome:
        if charger.session_id != payload["session_id"]:
            return CommandResultType.REJECTED, None, None
        charger.profile = charger.profile_start = None
        return CommandResultType.ACCEPTED, None, None

    # --- what happens at a charger over time ---

    def _live(self, charger: SimCharger, dt: timedelta, now: datetime) -> None:
        if charger.offline_until is not None:
            if now >= charger.offline_until:
                charger.offline_until = None
                self._status(charger, self._idle_status(charger))
            return
        if charger.faulted_until is not None and now >= charger.faulted_until:
            charger.faulted_until = None
            self._status(charger, self._idle_status(charger))
        if charger.reserved_until is not None and now >= charger.reserved_until:
            charger.reserved_for = charger.reserved_until = None
            if charger.session_id is None:
                self._status(charger, EvseStatus.AVAILABLE)
        if charger.session_id is not None:
            self._charge(charger, dt, now)
            return
        self._maybe_trouble(charger, now)

    def _charge(self, charger: SimCharger, dt: timedelta, now: datetime) -> None:
        vehicle, spec, session_id = charger.vehicle, charger.connector, charger.session_id
        if vehicle is None or spec is None or session_id is None:
            return
        since = charger.metered_at or now - dt
        hours = max(0.0, (now - since).total_seconds() / 3600.0)
        charger.metered_at = now
        # Energy of the step at the power decided at its start (the charger's control interval).
        energy = min(charger.power_kw * hours, (1.0 - vehicle.soc) * vehicle.battery_kwh)
        charger.kwh += energy
        vehicle.soc = min(1.0, vehicle.soc + energy / vehicle.battery_kwh)
        charger.power_kw = min(vehicle.accepted_kw(spec.dc), self._limit_kw(charger, spec, now))
        if charger.power_kw <= 0 and charger.full_since is None:
            charger.full_since = now
        port.meter_values(
            session_id=session_id,
            at=now,
            kwh=Decimal(charger.kwh).quantize(_KWH),
            power_kw=Decimal(charger.power_kw).quantize(_KW),
            state_of_charge=round(vehicle.soc * 100),
        )
        leave = vehicle.leave_when_full_after
        if (
            leave is not None
            and charger.full_since is not None
            and now - charger.full_since >= leave
        ):
            self._end_session(charger, now)

    def _limit_kw(self, charger: SimCharger, spec: ConnectorSpec, now: datetime) -> float:
        limit = spec.max_kw
        if charger.profile is not None and charger.profile_start is not None:
            profiled = profile_limit_kw(charger.profile, charger.profile_start, now, spec)
            if profiled is not None:
                limit = min(limit, profiled)
        return max(0.0, limit)

    def _begin_session(
        self,
        charger: SimCharger,
        spec: ConnectorSpec,
        vehicle: Vehicle,
        token: Token,
        auth_method: str,
        authorization_reference: str,
        now: datetime,
        *,
        command_id: int | None = None,
    ) -> None:
        charger.vehicle, charger.connector = vehicle, spec
        charger.kwh, charger.full_since, charger.metered_at = 0.0, None, now
        charger.reserved_for = charger.reserved_until = None
        self._status(charger, EvseStatus.CHARGING)
        session = port.session_started(
            connector=Connector.objects.get(pk=spec.pk),
            token=token,
            auth_method=auth_method,
            authorization_reference=authorization_reference,
            at=now,
            command_id=command_id,
        )
        charger.session_id = session.pk
        charger.power_kw = min(vehicle.accepted_kw(spec.dc), self._limit_kw(charger, spec, now))
        port.meter_values(
            session_id=session.pk,
            at=now,
            kwh=Decimal(0),
            power_kw=Decimal(charger.power_kw).quantize(_KW),
            state_of_charge=round(vehicle.soc * 100),
        )

    def _end_session(self, charger: SimCharger, now: datetime) -> None:
        if charger.session_id is not None:
            port.session_stopped(
                session_id=charger.session_id, at=now, kwh=Decimal(charger.kwh).quantize(_KWH)
            )
        charger.session_id = None
        charger.vehicle = charger.connector = None
        charger.profile = charger.profile_start = None
        charger.power_kw = charger.kwh = 0.0
        charger.metered_at = None
        self._status(charger, self._idle_status(charger))

    def _drivers_arrive(self, dt: timedelta, now: datetime) -> None:
        """New drivers, ``arrivals_per_hour`` on average over the whole fleet, each at a free
        charger picked at random (none free: the driver goes elsewhere). Drivers holding a
        reservation turn up at their charger within about half an hour."""
        if self.arrivals_per_hour <= 0:
            return
        expected = self.arrivals_per_hour * dt.total_seconds() / 3600.0
        arrivals = int(expected) + self._chance(expected - int(expected))
        for _ in range(arrivals):
            free = [c for c in self.chargers.values() if c.status == EvseStatus.AVAILABLE]
            if not free:
                break
            charger = self.rng.choice(free)
            token = Token.objects.filter(type=TokenType.RFID, valid=True).order_by("?").first()
            if token is not None:
                self._safely(charger, partial(self._driver_arrives, charger, token, now))
        reserved_arrival = min(1.0, dt.total_seconds() / _RESERVED_DRIVER_WITHIN.total_seconds())
        for charger in self.chargers.values():
            if (
                charger.status == EvseStatus.RESERVED
                and charger.reserved_for is not None
                and self._chance(reserved_arrival)
            ):
                token = Token.objects.filter(pk=charger.reserved_for).first()
                if token is not None:
                    self._safely(charger, partial(self._driver_arrives, charger, token, now))

    def _driver_arrives(self, charger: SimCharger, token: Token, now: datetime) -> None:
        """A driver badges a card at the charger: authorized, the car charges, then leaves."""
        decision = port.authorize_request(evse=charger.evse, uid=token.uid, token_type=token.type)
        if not decision.is_allowed or decision.token is None:
            return
        vehicle = self.vehicle_factory(self.rng)
        vehicle.leave_when_full_after = timedelta(minutes=self.rng.randint(5, 90))
        spec = self.rng.choice(charger.connectors)
        self._begin_session(
            charger,
            spec,
            vehicle,
            decision.token,
            decision.auth_method,
            decision.authorization_reference,
            now,
        )

    def _maybe_trouble(self, charger: SimCharger, now: datetime) -> None:
        if charger.reserved_for is not None:
            return
        if self._chance(self.offline_chance):
            charger.offline_until = now + timedelta(minutes=self.rng.randint(2, 20))
            self._status(charger, EvseStatus.UNKNOWN)
        elif self._chance(self.fault_chance):
            charger.faulted_until = now + timedelta(minutes=self.rng.randint(5, 60))
            self._status(charger, EvseStatus.OUTOFORDER)

    def _idle_status(self, charger: SimCharger) -> str:
        if charger.faulted_until is not None:
            return EvseStatus.OUTOFORDER
        if charger.reserved_for is not None:
            return EvseStatus.RESERVED
        return EvseStatus.AVAILABLE

    def _status(self, charger: SimCharger, status: str) -> None:
        charger.status = status
        port.evse_status_changed(evse=charger.evse, status=status)

    def _chance(self, probability: float) -> bool:
        return probability > 0 and self.rng.random() < probability

    def _online_ids(self) -> list[int]:
        return [pk for pk, charger in self.chargers.items() if not charger.offline]

    def _adopt_sessions(self) -> None:
        """Sessions left under way at our EVSEs (a restart) go on charging a default car."""
        under_way = Session.objects.filter(
            evse_id__in=list(self.chargers),
            status__in=(SessionStatus.PENDING, SessionStatus.ACTIVE),
        )
        for session in under_way:
            charger = self.chargers[session.evse_id]
            charger.session_id = session.pk
            charger.connector = charger.connector_spec(session.connector_id)
            charger.vehicle = self.vehicle_factory(self.rng)
            charger.kwh = float(session.kwh)
            charger.status = EvseStatus.CHARGING


def _random_vehicle(rng: random.Random) -> Vehicle:
    battery = rng.choice([40.0, 58.0, 77.0, 100.0])
    return Vehicle(
        battery_kwh=battery,
        soc=rng.uniform(0.1, 0.6),
        max_ac_kw=rng.choice([7.4, 11.0, 22.0]),
        max_dc_kw=rng.choice([50.0, 100.0, 150.0, 250.0]),
    )
