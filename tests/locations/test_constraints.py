"""Uniqueness of location, EVSE and connector ids, and the fixed place of EVSEs and connectors."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from locations.models import EVSE, Connector
from roaming.services import parties_sync_ours
from tests.locations.factories import ConnectorFactory, EVSEFactory, LocationFactory


def test_location_id_is_unique_per_owner_ignoring_case(db: None) -> None:
    LocationFactory.create(ocpi_id="LOC-AMS-1")

    with pytest.raises(IntegrityError), transaction.atomic():
        LocationFactory.create(ocpi_id="loc-ams-1")


def test_duplicate_location_id_fails_full_clean_naming_the_constraint(db: None) -> None:
    existing = LocationFactory.create(ocpi_id="LOC-AMS-1")
    duplicate = LocationFactory.build(owner=existing.owner, ocpi_id="Loc-Ams-1")

    with pytest.raises(ValidationError, match="A location with this OCPI id already exists"):
        duplicate.full_clean()


def test_same_location_id_under_another_of_our_identities_is_allowed(db: None) -> None:
    first, second = parties_sync_ours()[:2]
    LocationFactory.create(owner=first, ocpi_id="LOC-1")

    LocationFactory.create(owner=second, ocpi_id="LOC-1")


def test_evse_uid_is_unique_per_location_ignoring_case(db: None) -> None:
    evse = EVSEFactory.create(uid="BAY-1")

    with pytest.raises(IntegrityError), transaction.atomic():
        EVSEFactory.create(location=evse.location, uid="bay-1")


def test_duplicate_evse_uid_fails_full_clean_naming_the_constraint(db: None) -> None:
    evse = EVSEFactory.create(uid="BAY-1")
    duplicate = EVSEFactory.build(location=evse.location, uid="Bay-1")

    with pytest.raises(ValidationError, match="This location already has an EVSE with this UID"):
        duplicate.full_clean()


def test_same_evse_uid_at_another_location_is_allowed(db: None) -> None:
    EVSEFactory.create(uid="BAY-1")

    EVSEFactory.create(uid="BAY-1")

    assert EVSE.objects.filter(uid="BAY-1").count() == 2


def test_connector_id_is_unique_per_evse(db: None) -> None:
    connector = ConnectorFactory.create(ocpi_id="1")

    with pytest.raises(IntegrityError), transaction.atomic():
        ConnectorFactory.create(evse=connector.evse, ocpi_id="1")


def test_same_connector_id_on_another_evse_is_allowed(db: None) -> None:
    ConnectorFactory.create(ocpi_id="1")

    ConnectorFactory.create(ocpi_id="1")

    assert Connector.objects.filter(ocpi_id="1").count() == 2


def test_evse_moved_to_another_location_is_refused(db: None) -> None:
    evse = EVSEFactory.create()
    original_location = evse.location
    evse.location = LocationFactory.create()

    with pytest.raises(ValidationError) as raised:
        evse.save()

    assert raised.value.message_dict["location"] == [
        "An EVSE stays at its location; add a new one."
    ]
    evse.refresh_from_db()
    assert evse.location == original_location


def test_connector_moved_to_another_evse_is_refused(db: None) -> None:
    connector = ConnectorFactory.create()
    original_evse = connector.evse
    connector.evse = EVSEFactory.create(location=original_evse.location)

    with pytest.raises(ValidationError) as raised:
        connector.save()

    assert raised.value.message_dict["evse"] == ["A connector stays with its EVSE; add a new one."]
    connector.refresh_from_db()
    assert connector.evse == original_evse
