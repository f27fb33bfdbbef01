"""Requests of the push outbox, built at sending time from the objects as they are then.

One request per object and batch, in the partner's negotiated version, to the partner's receiver
endpoint of the module:

* Locations: PUT of the smallest object that changed (location, EVSE or connector URL), or a
  PATCH of an EVSE's status; a location PUT carries its EVSEs and connectors.
* Tariffs: PUT, or DELETE once the tariff is deleted here.
* Sessions: PUT the first time, then PATCH with only the fields that changed and the charging
  periods the partner does not have yet (OCPI appends PATCHed periods). A PUT again whenever a
  PATCH cannot say it: the version changed, a field became empty, or delivered periods changed.
* CDRs: POST to the endpoint itself; the partner's Location header is kept to check it later.

OCPI 2.2+ requests carry routing headers: from the object's owner (ours), to the driver's eMSP
for sessions and CDRs, and for locations and tariffs to the hub (broadcast push) or to the first
party the connection speaks for.
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from django.db.models import Prefetch

from billing.models import CDR, Tariff
from locations.models import EVSE, Connector, Location
from roaming.choices import InterfaceRole, ModuleID, OcpiVersion, Role
from roaming.models import DeliveredObject, OutboxKind, OutboxOperation, OutboxRow, Partner, Party
from roaming.modules.cdrs.serializers import cdr_to_ocpi, cdrs_for_ocpi
from roaming.modules.common import Json, datetime_out, jsonable
from roaming.modules.locations.selectors import locations_with_evses
from roaming.modules.locations.serializers import (
    connector_to_ocpi,
    evse_to_ocpi,
    location_to_ocpi,
)
from roaming.modules.sessions.serializers import session_to_ocpi, sessions_for_ocpi
from roaming.modules.tariffs.serializers import tariff_to_ocpi, tariffs_for_ocpi
from roaming.push.keys import url_suffix
from roaming.transport.routing import FROM_COUNTRY_CODE, FROM_PARTY_ID, TO_COUNTRY_CODE, TO_PARTY_ID
from sessions_app.models import Session


class NothingToSendError(Exception):
    """The row has nothing the partner can receive (object gone, version cannot express it)."""


@dataclass
class Send:
    """One object of a batch: its newest row is sent, older rows of it are superseded."""

    row: OutboxRow
    operation: OutboxOperation
    fields: set[str] = field(default_factory=set)
    superseded: list[OutboxRow] = field(default_factory=list)

    @property
    def key(self) -> str:
        return self.row.object_key


@dataclass(frozen=True)
class PushRequest:
    method: str
    url: str
    body: Json | None
    headers: dict[str, str]
    # What the partner holds once this succeeds (DeliveredObject.snapshot); None: not tracked.
    snapshot: Json | None = None
    # A CDR the partner told us the URL of: GET it first, POST only if the partner lacks it.
    check_url: str = ""


# --- loading a batch's objects -----------------------------------------------------------------------


class BatchObjects:
    """The objects a batch's rows are about, loaded with a few queries per kind."""

    def __init__(self, partner: Partner, sends: Iterable[Send]) -> None:
        ids: dict[str, set[int]] = defaultdict(set)
        tracked_keys: list[str] = []
        whole_evses: set[int] = set()
        for send in sends:
            ids[send.row.kind].add(send.row.object_id)
            if send.row.kind in (OutboxKind.SESSION, OutboxKind.LOCATION):
                tracked_keys.append(send.key)
            if send.row.kind == OutboxKind.EVSE and send.operation == OutboxOperation.PUT:
                whole_evses.add(send.row.object_id)
        self.broadcast = broadcast_party(partner)
        # Decrypted once per batch rather than on every call.
        self.token = partner.their_token
        self.locations: dict[int, Location] = {}
        self.evses: dict[int, EVSE] = {}
        self.connectors: dict[int, Connector] = {}
        self.tariffs: dict[int, Tariff] = {}
        self.sessions: dict[int, Session] = {}
        self.cdrs: dict[int, CDR] = {}
        if ids[OutboxKind.LOCATION]:
            queryset = locations_with_evses(
                Location.objects.filter(pk__in=ids[OutboxKind.LOCATION])
            )
            self.locations = {obj.pk: obj for obj in queryset}
        self._whole_evses = whole_evses
        if ids[OutboxKind.EVSE]:
            self.evses = _evses_whole(whole_evses)
            patched = ids[OutboxKind.EVSE] - whole_evses
            if patched:
                # A status PATCH reads the status and the owner (routing headers) only, so the
                # rest of the EVSE and of its location (texts, JSON) stays unread; its rare
                # fallback to a PUT loads the EVSE whole (``evse_whole``).
                lean = EVSE.objects.select_related("location__owner").only(*_PATCH_COLUMNS)
                self.evses.update((obj.pk, obj) for obj in lean.filter(pk__in=patched))
        if ids[OutboxKind.CONNECTOR]:
            queryset_c = Connector.objects.filter(pk__in=ids[OutboxKind.CONNECTOR]).select_related(
                "evse__location__owner"
            )
            self.connectors = {obj.pk: obj for obj in queryset_c}
        if ids[OutboxKind.TARIFF]:
            tariffs = tariffs_for_ocpi(Tariff.objects.filter(pk__in=ids[OutboxKind.TARIFF]))
            self.tariffs = {obj.pk: obj for obj in tariffs}
        if ids[OutboxKind.SESSION]:
            sessions = sessions_for_ocpi(
                Session.objects.filter(pk__in=ids[OutboxKind.SESSION])
            ).select_related("emsp")
            self.sessions = {obj.pk: obj for obj in sessions}
        if ids[OutboxKind.CDR]:
            cdrs = cdrs_for_ocpi(CDR.objects.filter(pk__in=ids[OutboxKind.CDR])).select_related(
                "emsp"
            )
            self.cdrs = {obj.pk: obj for obj in cdrs}
        self.delivered: dict[str, DeliveredObject] = {}
        if tracked_keys:
            self.delivered = {
                obj.object_key: obj
                for obj in DeliveredObject.objects.filter(
                    partner=partner, object_key__in=tracked_keys
                )
            }

    def evse_whole(self, pk: int) -> EVSE | None:
        """The EVSE with every field and its connectors (to PUT it), loaded now if it was not."""
        if pk not in self._whole_evses:
            self.evses.update(_evses_whole({pk}))
            self._whole_evses.add(pk)
        return self.evses.get(pk)


_PATCH_COLUMNS = (
    "status",
    "status_schedule",
    "last_updated",
    "location__owner__country_code",
    "location__owner__party_id",
)


def _evses_whole(pks: set[int]) -> dict[int, EVSE]:
    if not pks:
        return {}
    connectors = Prefetch("connectors", queryset=Connector.objects.order_by("pk"))
    evses = EVSE.objects.select_related("location__owner").prefetch_related(connectors)
    return {obj.pk: obj for obj in evses.filter(pk__in=pks)}


# --- building requests ----------------------------------------------------------------------------


def build_request(
    partner: Partner, version: OcpiVersion, send: Send, objects: BatchObjects
) -> PushRequest:
    """The request telling the partner the current state of the send's object."""
    row = send.row
    endpoint = partner.endpoint_url(ModuleID(row.module), InterfaceRole.RECEIVER)
    if not endpoint:
        raise NothingToSendError(f"The partner has no {row.module} receiver endpoint any more.")
    base = endpoint.rstrip("/")
    builders = {
        OutboxKind.LOCATION: _location,
        OutboxKind.EVSE: _evse,
        OutboxKind.CONNECTOR: _connector,
        OutboxKind.TARIFF: _tariff,
        OutboxKind.SESSION: _session,
        OutboxKind.CDR: _cdr,
    }
    return builders[OutboxKind(row.kind)](partner, version, send, objects, base)


def _missing(what: str) -> NothingToSendError:
    return NothingToSendError(f"The {what} no longer exists here.")


def _location(
    partner: Partner, version: OcpiVersion, send: Send, objects: BatchObjects, base: str
) -> PushRequest:
    location = objects.locations.get(send.row.object_id)
    if location is None:
        raise _missing("location")
    return PushRequest(
        method="PUT",
        url=base + url_suffix(send.key),
        body=location_to_ocpi(location, version),
        headers=routing_headers(version, location.owner, objects.broadcast),
        snapshot={},
    )


def _evse(
    partner: Partner, version: OcpiVersion, send: Send, objects: BatchObjects, base: str
) -> PushRequest:
    if send.operation == OutboxOperation.PATCH:
        evse = objects.evses.get(send.row.object_id)
    else:
        evse = objects.evse_whole(send.row.object_id)
    if evse is None:
        raise _missing("EVSE")
    headers = routing_headers(version, evse.location.owner, objects.broadcast)
    url = base + url_suffix(send.key)
    if send.operation == OutboxOperation.PATCH:
        body: Json = {"status": evse.status}
        if "status_schedule" in send.fields:
            body["status_schedule"] = evse.status_schedule
        body["last_updated"] = datetime_out(evse.last_updated)
        return PushRequest(method="PATCH", url=url, body=body, headers=headers)
    evse_object = evse_to_ocpi(evse, version)
    if evse_object is None:
        raise NothingToSendError(f"OCPI {version} can show none of this EVSE's connectors.")
    return PushRequest(method="PUT", url=url, body=evse_object, headers=headers)


def _connector(
    partner: Partner, version: OcpiVersion, send: Send, objects: BatchObjects, base: str
) -> PushRequest:
    connector = objects.connectors.get(send.row.object_id)
    if connector is None:
        raise _missing("connector")
    body = connector_to_ocpi(connector, version)
    if body is None:
        raise NothingToSendError(f"OCPI {version} has no name for this connector's standard.")
    owner = connector.evse.location.owner
    return PushRequest(
        method="PUT",
        url=base + url_suffix(send.key),
        body=body,
        headers=routing_headers(version, owner, objects.broadcast),
    )


def _tariff(
    partner: Partner, version: OcpiVersion, send: Send, objects: BatchObjects, base: str
) -> PushRequest:
    tariff = objects.tariffs.get(send.row.object_id)
    if tariff is None:
        raise _missing("tariff")
    headers = routing_headers(version, tariff.owner, objects.broadcast)
    url = base + url_suffix(send.key)
    if tariff.is_deleted:
        return PushRequest(method="DELETE", url=url, body=None, headers=headers)
    body = tariff_to_ocpi(tariff, version)
    if body is None:
        raise NothingToSendError(f"OCPI {version} can express none of this tariff's elements.")
    return PushRequest(method="PUT", url=url, body=body, headers=headers)


def _session(
    partner: Partner, version: OcpiVersion, send: Send, objects: BatchObjects, base: str
) -> PushRequest:
    session = objects.sessions.get(send.row.object_id)
    if session is None:
        raise _missing("session")
    headers = routing_headers(version, session.owner, session.emsp)
    url = base + url_suffix(send.key)
    full: Json = jsonable(session_to_ocpi(session, version))
    periods: list[Json] = full.get("charging_periods") or []
    fields = {key: value for key, value in full.items() if key != "charging_periods"}
    snapshot = {"body": fields, "periods": len(periods), "digest": _digest(periods)}
    delivered = objects.delivered.get(send.key)
    patch = _session_patch(delivered, version, fields, periods)
    if patch is None:
        return PushRequest(method="PUT", url=url, body=full, headers=headers, snapshot=snapshot)
    return PushRequest(method="PATCH", url=url, body=patch, headers=headers, snapshot=snapshot)


def _session_patch(
    delivered: DeliveredObject | None,
    version: OcpiVersion,
    fields: Json,
    periods: list[Json],
) -> Json | None:
    """The PATCH body bringing the partner's copy up to date; None when only a PUT can."""
    if delivered is None or delivered.version != version:
        return None
    held: Json = delivered.snapshot.get("body") or {}
    held_periods = int(delivered.snapshot.get("periods") or 0)
    if len(periods) < held_periods or _digest(periods[:held_periods]) != delivered.snapshot.get(
        "digest"
    ):
        return None  # delivered periods changed: PATCHed periods would only be appended
    if set(held) - set(fields):
        return None  # a field became empty, which a PATCH cannot say
    changes = {key: value for key, value in fields.items() if held.get(key) != value}
    changes.pop("last_updated", None)
    new_periods = periods[held_periods:]
    if not changes and not new_periods:
        raise NothingToSendError("The partner already has this state of the session.")
    if new_periods:
        changes["charging_periods"] = new_periods
    changes["last_updated"] = fields["last_updated"]
    return changes


def _digest(periods: list[Json]) -> str:
    raw = json.dumps(periods, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(raw.encode()).hexdigest()


def _cdr(
    partner: Partner, version: OcpiVersion, send: Send, objects: BatchObjects, base: str
) -> PushRequest:
    cdr = objects.cdrs.get(send.row.object_id)
    if cdr is None:
        raise _missing("CDR")
    return PushRequest(
        method="POST",
        url=base,
        body=cdr_to_ocpi(cdr, version),
        headers=routing_headers(version, cdr.owner, cdr.emsp),
        check_url=send.row.remote_url,
    )


# --- routing ----------------------------------------------------------------------------------------


def broadcast_party(partner: Partner) -> Party | None:
    """Whom a location or tariff push is addressed to: the hub, else the connection's first party."""
    parties = sorted(partner.parties.all(), key=lambda party: (party.country_code, party.party_id))
    hub = next((party for party in parties if party.has_role(Role.HUB)), None)
    return hub or (parties[0] if parties else None)


def routing_headers(version: OcpiVersion, owner: Party, to: Party | None) -> dict[str, str]:
    """OCPI 2.2+ routing headers; OCPI 2.1.1 has none."""
    if version == OcpiVersion.V2_1_1:
        return {}
    headers = {FROM_COUNTRY_CODE: owner.country_code, FROM_PARTY_ID: owner.party_id}
    if to is not None:
        headers[TO_COUNTRY_CODE] = to.country_code
        headers[TO_PARTY_ID] = to.party_id
    return headers
