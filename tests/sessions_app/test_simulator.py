"""The simulated chargers: charge curves, profile limits, commands carried out, faults, offline."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from locations.choices import PowerType, Status
from sessions_app.choices import (
    ChargerAction,
    CommandResultType,
    CommandState,
    CommandType,
    SessionStatus,
)
from sessions_app.gateway.port import gateway
from sessions_app.gateway.simulator import (
    Clock,
    ConnectorSpec,
    Simulator,
    Vehicle,
    connector_spec,
    profile_limit_kw,
)
from sessions_app.models import Command, Session
from sessions_app.services import reservation_create
from tests.locations.factories import ConnectorFactory
from tests.sessions_app.conftest import Recorded
from tests.sessions_app.factories import TokenFactory

pytestmark = pytest.mark.django_db

T0 = datetime(2025, 6, 2, 10, 0, tzinfo=UTC)
AC = ConnectorSpec(pk=1, dc=False, max_kw=22.08, volts=230, phases=3)


def test_ac_vehicle_draws_its_onboard_charger_power() -> None:
    assert Vehicle(soc=0.5, max_ac_kw=11).accepted_kw(dc=False) == 11


def test_dc_vehicle_draws_full_power_up_to_half_charge() -> None:
    assert Vehicle(soc=0.4, max_dc_kw=150).accepted_kw(dc=True) == 150


def test_dc_power_tapers_with_state_of_charge() -> None:
    powers = [Vehicle(soc=soc, max_dc_kw=100).accepted_kw(dc=True) for soc in (0.6, 0.8, 0.99)]
    assert powers == sorted(powers, reverse=True)
    assert powers[-1] < 15


def test_full_battery_draws_nothing() -> None:
    assert Vehicle(soc=1.0).accepted_kw(dc=True) == 0


def test_connector_power_comes_from_voltage_amperage_and_phases() -> None:
    connector = ConnectorFactory.build(
        power_type=PowerType.AC_3_PHASE, max_voltage=230, max_amperage=16, max_electric_power=None
    )
    assert connector_spec(connector).max_kw == pytest.approx(11.04)


def test_watt_profile_limits_by_period() -> None:
    profile = {
        "charging_rate_unit": "W",
        "charging_profile_period": [
            {"start_period": 0, "limit": 7000},
            {"start_period": 600, "limit": 3000},
        ],
    }
    assert profile_limit_kw(profile, T0, T0 + timedelta(minutes=5), AC) == 7
    assert profile_limit_kw(profile, T0, T0 + timedelta(minutes=11), AC) == 3


def test_ampere_profile_limit_counts_voltage_and_phases() -> None:
    profile = {
        "charging_rate_unit": "A",
        "charging_profile_period": [{"start_period": 0, "limit": 10}],
    }
    assert profile_limit_kw(profile, T0, T0, AC) == pytest.approx(6.9)


def test_profile_past_its_duration_limits_nothing() -> None:
    profile = {
        "charging_rate_unit": "W",
        "duration": 60,
        "charging_profile_period": [{"start_period": 0, "limit": 1000}],
    }
    assert profile_limit_kw(profile, T0, T0 + timedelta(minutes=2), AC) is None


def simulator(connector, **kwargs):
    sim = Simulator(
        [connector.evse],
        clock=Clock(T0, real=None),
        rng=random.Random(1),
        vehicle_factory=lambda rng: Vehicle(battery_kwh=60, soc=0.2, max_ac_kw=11),
        **kwargs,
    )
    return sim


def instruct_start(connector, token) -> Command:
    command = Command.objects.create(
        command_type=CommandType.START_SESSION,
        emsp=token.owner,
        version="2.2.1",
        response_url="https://emsp.example.com/r/1",
        request={},
        evse=connector.evse,
        location=connector.evse.location,
        deadline=T0 + timedelta(minutes=1),
    )
    gateway().instruct(
        evse=connector.evse,
        action=ChargerAction.START,
        payload={
            "token_id": token.pk,
            "connector_id": connector.pk,
            "authorization_reference": "A1",
        },
        command=command,
    )
    return command


def test_remote_start_is_accepted_and_charges_along_the_curve(recorded: Recorded) -> None:
    connector = ConnectorFactory.create()
    command = instruct_start(connector, TokenFactory.create())
    sim = simulator(connector)
    sim.step(60)
    command.refresh_from_db()
    assert (command.state, command.result) == (CommandState.ANSWERED, CommandResultType.ACCEPTED)
    session = Session.objects.get()
    assert session.authorization_reference == "A1"
    for _ in range(30):
        sim.step(60)
    session.refresh_from_db()
    assert session.status == SessionStatus.ACTIVE
    assert session.kwh == Decimal("5.5000")  # 11 kW for 30 minutes
    connector.evse.refresh_from_db()
    assert connector.evse.status == Status.CHARGING


def test_the_simulator_obeys_a_charging_profile(recorded: Recorded) -> None:
    connector = ConnectorFactory.create()
    instruct_start(connector, TokenFactory.create())
    sim = simulator(connector)
    sim.step(60)
    session = Session.objects.get()
    gateway().instruct(
        evse=connector.evse,
        action=ChargerAction.SET_CHARGING_PROFILE,
        payload={
            "session_id": session.pk,
            "charging_profile": {
                "charging_rate_unit": "W",
                "charging_profile_period": [{"start_period": 0, "limit": 4000}],
            },
        },
    )
    sim.step(60)  # takes the profile; this minute still ran at 11 kW
    before = Session.objects.get().kwh
    for _ in range(60):
        sim.step(60)
    assert Session.objects.get().kwh - before == Decimal("4.0000")


def test_remote_stop_completes_the_session_and_frees_the_evse(recorded: Recorded) -> None:
    connector = ConnectorFactory.create()
    instruct_start(connector, TokenFactory.create())
    sim = simulator(connector)
    sim.step(60)
    sim.step(600)
    session = Session.objects.get()
    gateway().instruct(
        evse=connector.evse, action=ChargerAction.STOP, payload={"session_id": session.pk}
    )
    sim.step(60)
    session.refresh_from_db()
    assert session.status == SessionStatus.COMPLETED
    assert recorded.cdrs == [session.ocpi_id]
    connector.evse.refresh_from_db()
    assert connector.evse.status == Status.AVAILABLE


def test_start_at_an_occupied_charger_answers_evse_occupied(recorded: Recorded) -> None:
    connector = ConnectorFactory.create()
    instruct_start(connector, TokenFactory.create())
    sim = simulator(connector)
    sim.step(60)
    second = instruct_start(connector, TokenFactory.create())
    sim.step(60)
    second.refresh_from_db()
    assert second.result == CommandResultType.EVSE_OCCUPIED


def test_an_offline_charger_leaves_instructions_unanswered(recorded: Recorded) -> None:
    connector = ConnectorFactory.create()
    sim = simulator(connector, offline_chance=1.0)
    sim.step(60)  # goes offline
    command = instruct_start(connector, TokenFactory.create())
    sim.step(60)
    command.refresh_from_db()
    assert command.state == CommandState.WAITING
    connector.evse.refresh_from_db()
    assert connector.evse.status == Status.UNKNOWN


def test_a_faulting_charger_goes_out_of_order(recorded: Recorded) -> None:
    connector = ConnectorFactory.create()
    sim = simulator(connector, fault_chance=1.0)
    sim.step(60)
    connector.evse.refresh_from_db()
    assert connector.evse.status == Status.OUTOFORDER


def test_drivers_arriving_with_rfid_start_sessions_by_whitelist(recorded: Recorded) -> None:
    connector = ConnectorFactory.create()
    TokenFactory.create()
    sim = simulator(connector, arrivals_per_hour=60)
    sim.step(60)  # one driver a minute
    session = Session.objects.get()
    assert session.auth_method == "WHITELIST"
    assert session.evse == connector.evse


def test_a_charger_out_of_step_with_our_sessions_is_reset_not_fatal(recorded: Recorded) -> None:
    connector = ConnectorFactory.create()
    instruct_start(connector, TokenFactory.create())
    sim = simulator(connector)
    sim.step(60)
    Session.objects.update(status=SessionStatus.INVALID)  # changed behind the charger's back
    sim.step(60)
    assert sim.chargers[connector.evse_id].session_id is None


def test_the_session_a_remote_start_produced_is_linked_to_its_command(recorded: Recorded) -> None:
    connector = ConnectorFactory.create()
    command = instruct_start(connector, TokenFactory.create())
    simulator(connector).step(60)
    command.refresh_from_db()
    assert command.session == Session.objects.get()


def test_a_driver_with_a_reservation_turns_up_at_the_reserved_charger(
    recorded: Recorded,
) -> None:
    connector = ConnectorFactory.create()
    token = TokenFactory.create()
    TokenFactory.create()  # another driver, who finds no free charger
    reservation = reservation_create(
        emsp=token.owner,
        token=token,
        reservation_id="R-SIM",
        location=connector.evse.location,
        evse=connector.evse,
        held_at=connector.evse,
        expiry_date=T0 + timedelta(hours=1),
        at=T0,
    )
    sim = simulator(connector, arrivals_per_hour=1)
    charger = sim.chargers[connector.evse_id]
    charger.status, charger.reserved_for = Status.RESERVED, token.pk

    sim.step(30 * 60)  # the reserved driver comes within half an hour

    session = Session.objects.get()
    assert session.pk == reservation.session_id
    assert session.token == token
    assert session.status == SessionStatus.ACTIVE
