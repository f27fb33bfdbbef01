"""A reservation is a session for partners: RESERVATION while held, then charging or COMPLETED."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from sessions_app.choices import AuthMethod, ReservationStatus, SessionStatus
from sessions_app.models import Reservation, Session
from sessions_app.services import (
    reservation_cancel,
    reservation_create,
    reservation_expire_due,
    session_meter_update,
    session_start,
)
from tests.locations.factories import ConnectorFactory, EVSEFactory
from tests.sessions_app.conftest import Recorded
from tests.sessions_app.factories import TokenFactory

pytestmark = pytest.mark.django_db

T0 = datetime(2025, 6, 2, 10, 0, tzinfo=UTC)


def reserve(connector, token, *, whole_location: bool = False, reference: str = "RES-REF"):
    evse = connector.evse
    return reservation_create(
        emsp=token.owner,
        token=token,
        reservation_id="R-1",
        location=evse.location,
        evse=None if whole_location else evse,
        held_at=evse,
        expiry_date=T0 + timedelta(minutes=30),
        authorization_reference=reference,
        at=T0,
    )


def start(connector, token, *, reference: str = "", method: str = AuthMethod.COMMAND) -> Session:
    return session_start(
        connector=connector,
        token=token,
        auth_method=method,
        started_at=T0 + timedelta(minutes=10),
        authorization_reference=reference,
    )


def test_an_accepted_reservation_is_a_reservation_session_told_to_the_emsp(
    recorded: Recorded,
) -> None:
    connector, token = ConnectorFactory.create(), TokenFactory.create()
    reservation = reserve(connector, token)

    session = reservation.session
    assert session is not None
    assert session.status == SessionStatus.RESERVATION
    assert session.evse == connector.evse
    assert session.emsp == token.owner
    assert session.auth_method == AuthMethod.COMMAND
    assert session.authorization_reference == "RES-REF"
    assert session.start_date_time == T0
    assert recorded.sessions == [(session.ocpi_id, SessionStatus.RESERVATION, "0")]


def test_a_replaced_reservation_keeps_its_session(recorded: Recorded) -> None:
    connector, token = ConnectorFactory.create(), TokenFactory.create()
    first = reserve(connector, token)
    again = reserve(connector, token, reference="RES-REF-2")

    assert again.pk == first.pk
    assert again.session == first.session
    assert Session.objects.get().authorization_reference == "RES-REF-2"


def test_charging_on_the_reservation_goes_on_in_the_same_session(recorded: Recorded) -> None:
    connector, token = ConnectorFactory.create(), TokenFactory.create()
    reserved = reserve(connector, token).session
    assert reserved is not None

    session = start(connector, token, method=AuthMethod.WHITELIST)
    assert session.pk == reserved.pk
    assert session.status == SessionStatus.PENDING
    assert session.auth_method == AuthMethod.WHITELIST  # the last method used counts
    assert session.authorization_reference == "RES-REF"  # the reservation's, none newer given
    assert session.start_date_time == T0 + timedelta(minutes=10)

    session = session_meter_update(
        session=session, at=T0 + timedelta(minutes=11), kwh=Decimal("0.2"), power_kw=Decimal(11)
    )
    assert session.status == SessionStatus.ACTIVE
    assert Session.objects.count() == 1
    assert Reservation.objects.get().status == ReservationStatus.FULFILLED


def test_a_newer_authorization_reference_replaces_the_reservations(recorded: Recorded) -> None:
    connector, token = ConnectorFactory.create(), TokenFactory.create()
    reserve(connector, token)
    assert start(connector, token, reference="START-REF").authorization_reference == "START-REF"


def test_a_location_reservation_follows_the_driver_to_the_evse_used(recorded: Recorded) -> None:
    held = ConnectorFactory.create()
    other = ConnectorFactory.create(evse=EVSEFactory.create(location=held.evse.location))
    token = TokenFactory.create()
    reserved = reserve(held, token, whole_location=True).session

    session = start(other, token)
    assert session.pk == reserved.pk
    assert session.evse == other.evse
    assert session.connector == other


def test_another_driver_at_the_reserved_evse_gets_a_session_of_their_own(
    recorded: Recorded,
) -> None:
    connector = ConnectorFactory.create()
    reserved = reserve(connector, TokenFactory.create()).session

    session = start(connector, TokenFactory.create())
    assert session.pk != reserved.pk
    assert Session.objects.get(pk=reserved.pk).status == SessionStatus.RESERVATION


def test_a_canceled_reservation_completes_its_session_without_a_cdr(recorded: Recorded) -> None:
    connector, token = ConnectorFactory.create(), TokenFactory.create()
    reservation = reserve(connector, token)

    reservation_cancel(reservation=reservation, at=T0 + timedelta(minutes=5))

    session = Session.objects.get()
    assert session.status == SessionStatus.COMPLETED
    assert session.end_date_time == T0 + timedelta(minutes=5)
    assert recorded.sessions[-1][:2] == (session.ocpi_id, SessionStatus.COMPLETED)
    assert recorded.cdrs == []


def test_an_expired_reservation_completes_its_session(recorded: Recorded) -> None:
    connector, token = ConnectorFactory.create(), TokenFactory.create()
    reserve(connector, token)

    expired = reservation_expire_due(now=T0 + timedelta(minutes=31))

    assert [r.status for r in expired] == [ReservationStatus.EXPIRED]
    session = Session.objects.get()
    assert session.status == SessionStatus.COMPLETED
    assert session.end_date_time == T0 + timedelta(minutes=31)


def test_a_fulfilled_reservation_no_longer_ends_its_session(recorded: Recorded) -> None:
    connector, token = ConnectorFactory.create(), TokenFactory.create()
    reservation = reserve(connector, token)
    start(connector, token)

    reservation_cancel(reservation=reservation)
    assert reservation_expire_due(now=T0 + timedelta(hours=1)) == []
    assert Session.objects.get().status == SessionStatus.PENDING
