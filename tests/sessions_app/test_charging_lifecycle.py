"""Session lifecycle services: start, meter updates cutting periods, stop, EVSE status."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from decimal import Decimal
from typing import Any

import pytest

from billing.cdrs import CdrError
from billing.models import Tariff, TariffElement
from locations.choices import Status
from sessions_app.choices import AuthMethod, ReservationStatus, SessionStatus
from sessions_app.models import Reservation, SessionChargingPeriod
from sessions_app.services import (
    SessionStateError,
    evse_status_report,
    reservation_expire_due,
    session_meter_update,
    session_start,
    session_stop,
)
from tests.billing.factories import PriceComponentFactory, TariffFactory
from tests.locations.factories import ConnectorFactory
from tests.sessions_app.conftest import Recorded
from tests.sessions_app.factories import ReservationFactory, SessionFactory, TokenFactory

pytestmark = pytest.mark.django_db

T0 = datetime(2025, 6, 2, 10, 0, tzinfo=UTC)  # 12:00 in Amsterdam


def minutes(n: float) -> datetime:
    return T0 + timedelta(minutes=n)


def start(connector=None, token=None):
    return session_start(
        connector=connector or ConnectorFactory.create(),
        token=token or TokenFactory.create(),
        auth_method=AuthMethod.WHITELIST,
        started_at=T0,
        authorization_reference="REF-1",
    )


def periods(session) -> list[dict[str, Any]]:
    return [
        {d["type"]: d["volume"] for d in p.dimensions} | {"start": p.start_date_time}
        for p in SessionChargingPeriod.objects.filter(session=session)
    ]


def test_start_opens_a_pending_session_and_tells_the_emsp(recorded: Recorded) -> None:
    session = start()
    assert session.status == SessionStatus.PENDING
    assert session.auth_method == AuthMethod.WHITELIST
    assert session.authorization_reference == "REF-1"
    assert session.cdr_token["uid"] == session.token.uid
    assert recorded.sessions == [(session.ocpi_id, SessionStatus.PENDING, "0")]


def test_start_refuses_a_second_session_at_the_same_evse(recorded: Recorded) -> None:
    connector = ConnectorFactory.create()
    start(connector)
    with pytest.raises(SessionStateError):
        start(connector)


def test_start_takes_the_currency_of_the_connector_tariff(recorded: Recorded) -> None:
    connector = ConnectorFactory.create(tariff_ids=["T-GBP"])
    Tariff.objects.create(owner=connector.evse.location.owner, ocpi_id="T-GBP", currency="GBP")
    assert start(connector).currency == "GBP"


def test_start_fulfils_the_tokens_reservation_of_that_evse(recorded: Recorded) -> None:
    connector = ConnectorFactory.create()
    token = TokenFactory.create()
    reservation = ReservationFactory.create(token=token, emsp=token.owner, evse=connector.evse)
    start(connector, token)
    reservation.refresh_from_db()
    assert reservation.status == ReservationStatus.FULFILLED


def test_first_energy_makes_the_session_active_and_is_pushed_at_once(
    recorded: Recorded, settings
) -> None:
    settings.CHARGING_SESSION_PUSH_INTERVAL_SECONDS = 3600
    session = start()
    session = session_meter_update(
        session=session, at=minutes(1), kwh=Decimal("0.18"), power_kw=Decimal("11")
    )
    assert session.status == SessionStatus.ACTIVE
    assert recorded.sessions[-1] == (session.ocpi_id, SessionStatus.ACTIVE, "0.18")


def test_meter_updates_are_pushed_at_most_once_per_interval(recorded: Recorded, settings) -> None:
    settings.CHARGING_SESSION_PUSH_INTERVAL_SECONDS = 300
    session = start()
    for minute in range(1, 12):
        session_meter_update(
            session=session,
            at=minutes(minute),
            kwh=Decimal(minute) * Decimal("0.18"),
            power_kw=Decimal("11"),
        )
    # start, the first energy (status change), then minutes 6 and 11.
    assert [kwh for _, _, kwh in recorded.sessions] == ["0", "0.18", "1.08", "1.98"]


def test_totals_follow_the_meter(recorded: Recorded) -> None:
    session = start()
    session = session_meter_update(
        session=session, at=minutes(30), kwh=Decimal("5.5"), power_kw=Decimal("11")
    )
    assert session.kwh == Decimal("5.5")


def test_meter_going_back_is_refused(recorded: Recorded) -> None:
    session = start()
    session_meter_update(session=session, at=minutes(5), kwh=Decimal("1"), power_kw=Decimal(11))
    with pytest.raises(SessionStateError):
        session_meter_update(
            session=session, at=minutes(6), kwh=Decimal("0.5"), power_kw=Decimal(11)
        )


def test_a_power_step_closes_a_period(recorded: Recorded) -> None:
    session = start()
    session_meter_update(session=session, at=minutes(0), kwh=Decimal(0), power_kw=Decimal(50))
    session_meter_update(session=session, at=minutes(30), kwh=Decimal(25), power_kw=Decimal(50))
    assert periods(session) == []
    session_meter_update(session=session, at=minutes(36), kwh=Decimal(30), power_kw=Decimal(20))
    assert periods(session) == [
        {
            "ENERGY": 30,
            "TIME": 0.6,
            "MAX_POWER": 50,
            "start": T0,
        }
    ]


def test_a_small_power_change_keeps_the_period(recorded: Recorded) -> None:
    session = start()
    session_meter_update(session=session, at=minutes(0), kwh=Decimal(0), power_kw=Decimal(50))
    session_meter_update(session=session, at=minutes(6), kwh=Decimal(5), power_kw=Decimal(48))
    assert periods(session) == []


def test_no_power_after_charging_starts_a_parking_period(recorded: Recorded) -> None:
    session = start()
    session_meter_update(session=session, at=minutes(0), kwh=Decimal(0), power_kw=Decimal(11))
    session_meter_update(session=session, at=minutes(60), kwh=Decimal(11), power_kw=Decimal(0))
    session = session_stop(session=session, at=minutes(90), kwh=Decimal(11))
    found = periods(session)
    assert [sorted(p) for p in found] == [
        ["ENERGY", "MAX_POWER", "TIME", "start"],
        ["PARKING_TIME", "start"],
    ]
    assert found[1]["PARKING_TIME"] == 0.5


def test_a_tariff_time_boundary_in_local_time_cuts_the_period(recorded: Recorded) -> None:
    connector = ConnectorFactory.create(tariff_ids=["T-PEAK"])
    tariff = Tariff.objects.create(
        owner=connector.evse.location.owner, ocpi_id="T-PEAK", currency="EUR"
    )
    # 12:30 Amsterdam summer time is 10:30 UTC.
    TariffElement.objects.create(tariff=tariff, position=0, start_time=time(12, 30))
    session = start(connector)
    session_meter_update(session=session, at=minutes(0), kwh=Decimal(0), power_kw=Decimal(11))
    session_meter_update(session=session, at=minutes(60), kwh=Decimal(11), power_kw=Decimal(11))
    found = periods(session)
    assert [p["start"] for p in found] == [T0]
    assert found[0]["ENERGY"] == 5.5
    assert found[0]["TIME"] == 0.5


def test_a_tariff_energy_boundary_cuts_the_period(recorded: Recorded) -> None:
    connector = ConnectorFactory.create(tariff_ids=["T-KWH"])
    tariff = Tariff.objects.create(
        owner=connector.evse.location.owner, ocpi_id="T-KWH", currency="EUR"
    )
    TariffElement.objects.create(tariff=tariff, position=0, max_kwh=Decimal(4))
    session = start(connector)
    session_meter_update(session=session, at=minutes(0), kwh=Decimal(0), power_kw=Decimal(12))
    session_meter_update(session=session, at=minutes(40), kwh=Decimal(8), power_kw=Decimal(12))
    found = periods(session)
    assert found[0]["ENERGY"] == 4
    assert found[0]["TIME"] == 0.333333


def test_stop_completes_the_session_and_creates_the_cdr(recorded: Recorded) -> None:
    session = start()
    session_meter_update(session=session, at=minutes(1), kwh=Decimal("0.2"), power_kw=Decimal(11))
    session = session_stop(session=session, at=minutes(61), kwh=Decimal("11.2"))
    assert session.status == SessionStatus.COMPLETED
    assert session.end_date_time == minutes(61)
    assert session.kwh == Decimal("11.2")
    assert recorded.sessions[-1] == (session.ocpi_id, SessionStatus.COMPLETED, "11.2")
    assert recorded.cdrs == [session.ocpi_id]


def test_stop_closes_the_open_period(recorded: Recorded) -> None:
    session = start()
    session_meter_update(session=session, at=minutes(0), kwh=Decimal(0), power_kw=Decimal(11))
    session = session_stop(session=session, at=minutes(30), kwh=Decimal("5.5"))
    assert periods(session)[-1]["ENERGY"] == 5.5


def test_stop_without_energy_makes_the_session_invalid_and_bills_nothing(
    recorded: Recorded,
) -> None:
    session = session_stop(session=start(), at=minutes(2), kwh=Decimal(0))
    assert session.status == SessionStatus.INVALID
    assert recorded.cdrs == []


def test_a_finished_session_takes_no_more_meter_values(recorded: Recorded) -> None:
    session = session_stop(session=start(), at=minutes(2), kwh=Decimal(1))
    with pytest.raises(SessionStateError):
        session_meter_update(session=session, at=minutes(3), kwh=Decimal(2), power_kw=Decimal(1))


def test_stop_of_a_session_not_under_way_is_refused(recorded: Recorded) -> None:
    session = SessionFactory.create(status=SessionStatus.COMPLETED)
    with pytest.raises(SessionStateError):
        session_stop(session=session, at=minutes(1))


def test_evse_status_follows_the_charger_and_is_pushed_as_a_status_patch(
    recorded: Recorded,
) -> None:
    evse = ConnectorFactory.create().evse
    assert evse_status_report(evse=evse, status=Status.CHARGING) is True
    evse.refresh_from_db()
    assert evse.status == Status.CHARGING
    assert recorded.evses == [(evse.uid, ["status"])]


def test_the_same_evse_status_again_is_no_change(recorded: Recorded) -> None:
    evse = ConnectorFactory.create().evse
    assert evse_status_report(evse=evse, status=Status.AVAILABLE) is False
    assert recorded.evses == []


def test_a_removed_evse_stays_removed_whatever_its_charger_says(recorded: Recorded) -> None:
    evse = ConnectorFactory.create(evse__status=Status.REMOVED).evse
    assert evse_status_report(evse=evse, status=Status.AVAILABLE) is False
    evse.refresh_from_db()
    assert evse.status == Status.REMOVED


def test_expired_reservations_are_marked_expired(recorded: Recorded) -> None:
    due = ReservationFactory.create(expiry_date=T0 - timedelta(minutes=1))
    later = ReservationFactory.create(expiry_date=T0 + timedelta(minutes=1))
    assert [r.pk for r in reservation_expire_due(now=T0)] == [due.pk]
    assert Reservation.objects.get(pk=later.pk).status == ReservationStatus.RESERVED


def priced_connector(price: str = "0.40"):
    connector = ConnectorFactory.create(tariff_ids=["T-ENERGY"])
    tariff = TariffFactory.create(ocpi_id="T-ENERGY", owner=connector.evse.location.owner)
    PriceComponentFactory.create(
        element__tariff=tariff, price=Decimal(price), vat=None, step_size=1
    )
    return connector


def test_total_cost_is_current_when_partners_hear_of_the_session(
    recorded: Recorded, settings
) -> None:
    settings.CHARGING_SESSION_PUSH_INTERVAL_SECONDS = 0
    session = start(priced_connector("0.40"))
    session_meter_update(session=session, at=minutes(0), kwh=Decimal(0), power_kw=Decimal(11))
    session = session_meter_update(
        session=session, at=minutes(30), kwh=Decimal("5.5"), power_kw=Decimal(11)
    )
    assert session.total_cost == Decimal("2.20")


def test_a_session_billing_cannot_price_still_completes(recorded: Recorded, monkeypatch) -> None:
    def refuse(*, session):
        raise CdrError("no usable tariff")

    monkeypatch.setattr("billing.cdrs.cdr_create_from_session", refuse)
    session = start()
    session_meter_update(session=session, at=minutes(0), kwh=Decimal(0), power_kw=Decimal(11))
    session = session_stop(session=session, at=minutes(10), kwh=Decimal(2))
    session.refresh_from_db()
    assert session.status == SessionStatus.COMPLETED


def test_a_session_that_did_not_start_here_takes_meter_values_from_where_it_was(
    recorded: Recorded,
) -> None:
    session = SessionFactory.create(status=SessionStatus.ACTIVE, kwh=Decimal("12.5"))
    later = session.last_updated + timedelta(minutes=10)
    session = session_meter_update(
        session=session, at=later, kwh=Decimal("14.5"), power_kw=Decimal(11)
    )
    assert session.kwh == Decimal("14.5")
    session = session_stop(session=session, at=later + timedelta(minutes=1), kwh=Decimal("14.7"))
    assert [p["ENERGY"] for p in periods(session)] == [2, 0.2]
