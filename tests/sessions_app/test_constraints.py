"""Database constraints of tokens, sessions and reservations."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction

from roaming.models import Party
from sessions_app.choices import TokenType
from sessions_app.models import Session
from tests.sessions_app.factories import ReservationFactory, SessionFactory, TokenFactory


def test_session_with_negative_energy_is_refused_by_the_database(db: None) -> None:
    with pytest.raises(IntegrityError, match="session_kwh_not_negative"), transaction.atomic():
        SessionFactory.create(kwh=Decimal("-0.0001"))

    assert not Session.objects.exists()


def test_session_ending_before_it_starts_is_refused_by_the_database(db: None) -> None:
    session = SessionFactory.create()
    session.end_date_time = session.start_date_time - timedelta(seconds=1)

    with pytest.raises(IntegrityError, match="session_ends_after_start"), transaction.atomic():
        session.save()


def test_session_ending_when_it_starts_is_accepted(db: None) -> None:
    session = SessionFactory.create()
    session.end_date_time = session.start_date_time

    session.save()


def test_session_id_is_unique_per_owner_ignoring_case(db: None) -> None:
    SessionFactory.create(ocpi_id="SES-1")

    with pytest.raises(IntegrityError), transaction.atomic():
        SessionFactory.create(ocpi_id="ses-1")


def test_token_uid_and_type_are_unique_per_owner_ignoring_case(emsp: Party) -> None:
    TokenFactory.create(owner=emsp, uid="04AABBCCDD", type=TokenType.RFID)

    with pytest.raises(IntegrityError), transaction.atomic():
        TokenFactory.create(owner=emsp, uid="04aabbccdd", type=TokenType.RFID)


def test_same_token_uid_with_another_type_is_allowed(emsp: Party) -> None:
    TokenFactory.create(owner=emsp, uid="04AABBCCDD", type=TokenType.RFID)

    TokenFactory.create(owner=emsp, uid="04AABBCCDD", type=TokenType.APP_USER)


def test_same_token_uid_of_another_emsp_is_allowed(emsp: Party, outsider: Party) -> None:
    TokenFactory.create(owner=emsp, uid="04AABBCCDD", type=TokenType.RFID)

    TokenFactory.create(owner=outsider, uid="04AABBCCDD", type=TokenType.RFID)


def test_reservation_id_is_unique_per_emsp_ignoring_case(emsp: Party) -> None:
    ReservationFactory.create(token=TokenFactory.create(owner=emsp), reservation_id="RES-1")

    with pytest.raises(IntegrityError), transaction.atomic():
        ReservationFactory.create(token=TokenFactory.create(owner=emsp), reservation_id="res-1")


def test_session_at_an_evse_of_another_location_is_rejected(db: None) -> None:
    from django.core.exceptions import ValidationError

    from tests.locations.factories import EVSEFactory

    session = SessionFactory.create()
    session.evse = EVSEFactory.create()

    with pytest.raises(ValidationError, match=r"This EVSE is not at the session's location\."):
        session.clean()


def test_session_with_a_connector_of_another_evse_is_rejected(db: None) -> None:
    from django.core.exceptions import ValidationError

    from tests.locations.factories import ConnectorFactory

    session = SessionFactory.create()
    session.connector = ConnectorFactory.create(evse__location=session.location)

    with pytest.raises(ValidationError, match=r"This connector is not on the session's EVSE\."):
        session.clean()
