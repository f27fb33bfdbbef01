"""What must hold once a fault has cleared: the partner holds our latest state, nothing is stuck.

``recover`` lets time pass until the partner's backoff ends and runs the sweeper (whose delivery
tasks run eagerly in the tests) until no row waits; ``assert_partner_in_sync`` then compares the
receiver's copies with our serialized objects.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import time_machine
from django.utils import timezone

from billing.models import CDR
from locations.models import Location
from roaming.choices import OcpiVersion
from roaming.models import OUTBOX_WAITING_STATES, OutboxKind, OutboxRow, OutboxState, Partner
from roaming.modules.locations.selectors import locations_with_evses
from roaming.modules.locations.serializers import location_to_ocpi
from roaming.modules.sessions.serializers import session_to_ocpi, sessions_for_ocpi
from roaming.push.sweeper import outbox_sweep
from roaming.transport.encoding import dumps
from sessions_app.models import Session
from tests.faults.partner import FaultyReceiver

FINISHED = {OutboxState.DELIVERED, OutboxState.SUPERSEDED, OutboxState.SKIPPED, OutboxState.DEAD}


def as_json(value: Any) -> Any:
    """A body as the partner receives it (Decimals, datetimes... as on the wire)."""
    return json.loads(dumps(value))


def recover(partner: Partner, *, sweeps: int = 10) -> None:
    """Let time pass past each backoff and sweep until none of the partner's rows waits."""
    at = timezone.now()
    for _ in range(sweeps):
        waiting = OutboxRow.objects.filter(partner=partner, state__in=OUTBOX_WAITING_STATES)
        if not waiting.exists():
            return
        at += timedelta(minutes=20)  # past the longest backoff (OCPI_PUSH_RETRY_MAX_SECONDS)
        with time_machine.travel(at, tick=True):
            outbox_sweep()
    raise AssertionError(f"Rows still waiting after {sweeps} sweeps: {waiting_rows(partner)}")


def waiting_rows(partner: Partner) -> list[tuple[Any, ...]]:
    return list(
        OutboxRow.objects.filter(partner=partner)
        .exclude(state__in=FINISHED)
        .values_list("pk", "object_key", "state", "last_error")
    )


def assert_nothing_stuck(partner: Partner) -> None:
    """Every row is finished, and only permanent failures are dead (with the partner's answer)."""
    assert waiting_rows(partner) == []
    for row in OutboxRow.objects.filter(partner=partner, state=OutboxState.DEAD):
        assert row.last_error, f"dead row {row.pk} without a reason"
        assert row.http_status is None or row.http_status < 500, row.last_error


def our_location(location: Location, version: OcpiVersion) -> Any:
    fresh = locations_with_evses(Location.objects.filter(pk=location.pk)).get()
    return as_json(location_to_ocpi(fresh, version))


def our_session(session: Session, version: OcpiVersion) -> Any:
    fresh = sessions_for_ocpi(Session.objects.filter(pk=session.pk)).get()
    return as_json(session_to_ocpi(fresh, version))


def partner_should_hold(partner: Partner) -> dict[str, Any]:
    """What the partner must hold: our serialized state of every location and session it was
    told about (by object key), and the ids of the CDRs queued for it."""
    version = OcpiVersion(partner.version)
    rows = OutboxRow.objects.filter(partner=partner)
    location_keys = {
        "/".join(key.split("/")[:4])
        for key in rows.filter(
            kind__in=[OutboxKind.LOCATION, OutboxKind.EVSE, OutboxKind.CONNECTOR]
        ).values_list("object_key", flat=True)
    }
    objects: dict[str, Any] = {}
    for key in sorted(location_keys):
        _, country_code, party_id, ocpi_id = key.split("/")
        location = Location.objects.get(
            owner__country_code=country_code, owner__party_id=party_id, ocpi_id=ocpi_id
        )
        objects[key] = our_location(location, version)
    sessions = rows.filter(kind=OutboxKind.SESSION).values("object_id")
    for session in Session.objects.filter(pk__in=sessions).select_related("owner"):
        key = f"sessions/{session.owner.country_code}/{session.owner.party_id}/{session.ocpi_id}"
        objects[key] = our_session(session, version)
    cdrs = CDR.objects.filter(pk__in=rows.filter(kind=OutboxKind.CDR).values("object_id"))
    return {"objects": objects, "cdrs": sorted(cdrs.values_list("ocpi_id", flat=True))}


def assert_holds(peer: FaultyReceiver, should_hold: dict[str, Any]) -> None:
    for key, ours in should_hold["objects"].items():
        assert peer.objects.get(key) == ours, (key, peer.objects.get(key), ours)
    assert sorted(cdr_id for (_, _, cdr_id) in peer.cdrs) == should_hold["cdrs"]


def assert_partner_in_sync(peer: FaultyReceiver, partner: Partner) -> None:
    """The partner holds our latest state of every location and session it was told about, and
    every CDR queued for it exactly once; no row is stuck."""
    assert_nothing_stuck(partner)
    assert_holds(peer, partner_should_hold(partner))
