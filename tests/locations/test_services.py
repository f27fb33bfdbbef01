"""Services behind the staff actions: publishing locations and setting EVSE status."""

from __future__ import annotations

from datetime import UTC, datetime

import time_machine

from locations.choices import Status
from locations.models import EVSE, Location
from locations.services import evse_set_status, location_set_published
from tests.locations.factories import EVSEFactory, LocationFactory

CREATED = datetime(2025, 2, 1, 8, 0, tzinfo=UTC)
CHANGED = datetime(2025, 2, 2, 8, 0, tzinfo=UTC)


def test_publishing_sets_publish_and_bumps_last_updated(db: None) -> None:
    with time_machine.travel(CREATED, tick=False):
        location = LocationFactory.create(publish=False)

    with time_machine.travel(CHANGED, tick=False):
        changed = location_set_published(locations=Location.objects.all(), publish=True)

    location.refresh_from_db()
    assert changed == 1
    assert location.publish is True
    assert location.last_updated == CHANGED


def test_publishing_counts_and_leaves_already_published_locations_alone(db: None) -> None:
    with time_machine.travel(CREATED, tick=False):
        already = LocationFactory.create(publish=True)
        LocationFactory.create(publish=False)

    with time_machine.travel(CHANGED, tick=False):
        changed = location_set_published(locations=Location.objects.all(), publish=True)

    already.refresh_from_db()
    assert changed == 1
    assert already.last_updated == CREATED


def test_unpublishing_keeps_the_allowed_tokens(db: None) -> None:
    allowed = [{"uid": "ABC123", "type": "RFID"}]
    location = LocationFactory.create(publish=True, publish_allowed_to=allowed)

    changed = location_set_published(locations=[location], publish=False)

    location.refresh_from_db()
    assert changed == 1
    assert location.publish is False
    assert location.publish_allowed_to == allowed


def test_evse_set_status_saves_each_evse_and_bumps_its_location(db: None) -> None:
    with time_machine.travel(CREATED, tick=False):
        evse = EVSEFactory.create(status=Status.AVAILABLE)

    with time_machine.travel(CHANGED, tick=False):
        changed = evse_set_status(evses=EVSE.objects.all(), status=Status.OUTOFORDER)

    evse.refresh_from_db()
    evse.location.refresh_from_db()
    assert changed == 1
    assert evse.status == Status.OUTOFORDER
    assert evse.last_updated == CHANGED
    assert evse.location.last_updated == CHANGED


def test_evse_set_status_skips_evses_already_in_that_status(db: None) -> None:
    EVSEFactory.create(status=Status.OUTOFORDER)
    EVSEFactory.create(status=Status.AVAILABLE)

    changed = evse_set_status(evses=EVSE.objects.all(), status=Status.OUTOFORDER)

    assert changed == 1
    assert set(EVSE.objects.values_list("status", flat=True)) == {Status.OUTOFORDER}


def test_evse_set_status_leaves_removed_evses_removed(db: None) -> None:
    removed = EVSEFactory.create(status=Status.REMOVED)

    changed = evse_set_status(evses=[removed], status=Status.AVAILABLE)

    removed.refresh_from_db()
    assert changed == 0
    assert removed.status == Status.REMOVED


def test_evse_set_status_removed_keeps_the_rows(db: None) -> None:
    location = LocationFactory.create()
    EVSEFactory.create_batch(2, location=location)

    changed = evse_set_status(evses=location.evses.all(), status=Status.REMOVED)

    assert changed == 2
    assert list(location.evses.values_list("status", flat=True)) == [Status.REMOVED] * 2
