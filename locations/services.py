"""Services of locations that change the state of locations and EVSEs for staff and roaming."""

from __future__ import annotations

from collections.abc import Iterable

from django.db import transaction

from locations.choices import Status
from locations.models import EVSE, Location
from roaming.push.services import push_location_changed


@transaction.atomic
def location_set_published(*, locations: Iterable[Location], publish: bool) -> int:
    """Publish locations to every partner (or withdraw them); returns how many changed.

    publish_allowed_to is kept when publishing so that unpublishing again restores the same
    audience; a published location is shown to everyone whatever that list says.
    """
    changed = 0
    for location in locations:
        if location.publish == publish:
            continue
        location.publish = publish
        location.save(update_fields=["publish", "last_updated"])
        push_location_changed(location=location)
        changed += 1
    return changed


@transaction.atomic
def evse_set_status(*, evses: Iterable[EVSE], status: Status) -> int:
    """Set the status of EVSEs (out of order, removed...); returns how many changed.

    Each EVSE is saved on its own so its last_updated and its location's move forward and partners
    syncing by last_updated see the change. A REMOVED EVSE is gone for partners and stays so: a
    replacement charger is a new EVSE.
    """
    changed = 0
    for evse in evses:
        if evse.status == status or evse.status == Status.REMOVED:
            continue
        evse.status = status
        evse.save(update_fields=["status", "last_updated"])
        push_location_changed(location=evse.location, evse=evse, fields=["status"])
        changed += 1
    return changed
