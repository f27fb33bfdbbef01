"""EVSEs are never deleted, and changes bubble up last_updated for partners that sync by it."""

from __future__ import annotations

from datetime import UTC, datetime

import time_machine

from locations.choices import Status
from locations.models import EVSE
from tests.locations.factories import ConnectorFactory, EVSEFactory, LocationFactory

CREATED = datetime(2025, 1, 10, 8, 0, tzinfo=UTC)
CHANGED = datetime(2025, 1, 11, 9, 30, tzinfo=UTC)


def test_deleting_an_evse_marks_it_removed_and_keeps_it(db: None) -> None:
    evse = EVSEFactory.create(status=Status.AVAILABLE)

    evse.delete()

    evse.refresh_from_db()
    assert evse.status == Status.REMOVED


def test_deleting_evses_through_a_queryset_marks_them_removed(db: None) -> None:
    location = LocationFactory.create()
    EVSEFactory.create_batch(3, location=location)

    location.evses.all().delete()

    assert EVSE.objects.filter(location=location).count() == 3
    assert set(EVSE.objects.values_list("status", flat=True)) == {Status.REMOVED}


def test_connector_save_bumps_its_evse_and_location(db: None) -> None:
    with time_machine.travel(CREATED, tick=False):
        connector = ConnectorFactory.create()

    with time_machine.travel(CHANGED, tick=False):
        connector.max_amperage = 16
        connector.save()

    connector.evse.refresh_from_db()
    connector.evse.location.refresh_from_db()
    assert connector.last_updated == CHANGED
    assert connector.evse.last_updated == CHANGED
    assert connector.evse.location.last_updated == CHANGED


def test_evse_save_bumps_its_location(db: None) -> None:
    with time_machine.travel(CREATED, tick=False):
        evse = EVSEFactory.create()

    with time_machine.travel(CHANGED, tick=False):
        evse.status = Status.CHARGING
        evse.save()

    evse.location.refresh_from_db()
    assert evse.last_updated == CHANGED
    assert evse.location.last_updated == CHANGED


def test_evse_save_does_not_touch_sibling_evses(db: None) -> None:
    with time_machine.travel(CREATED, tick=False):
        evse = EVSEFactory.create()
        sibling = EVSEFactory.create(location=evse.location)

    with time_machine.travel(CHANGED, tick=False):
        evse.save()

    sibling.refresh_from_db()
    assert sibling.last_updated == CREATED


def test_save_without_touch_keeps_last_updated(db: None) -> None:
    with time_machine.travel(CREATED, tick=False):
        connector = ConnectorFactory.create()

    with time_machine.travel(CHANGED, tick=False):
        connector.save(touch=False)

    connector.evse.refresh_from_db()
    connector.evse.location.refresh_from_db()
    assert connector.evse.last_updated == CREATED
    assert connector.evse.location.last_updated == CREATED


def test_connector_delete_bumps_its_evse_and_location(db: None) -> None:
    with time_machine.travel(datetime(2025, 1, 1, tzinfo=UTC), tick=False):
        connector = ConnectorFactory.create()
    evse = connector.evse

    with time_machine.travel(datetime(2025, 2, 1, tzinfo=UTC), tick=False):
        connector.delete()

    evse.refresh_from_db()
    evse.location.refresh_from_db()
    assert evse.last_updated == datetime(2025, 2, 1, tzinfo=UTC)
    assert evse.location.last_updated == datetime(2025, 2, 1, tzinfo=UTC)
