"""Read-side queries of the locations sender: pages of locations and single objects for the wire.

The list is the hot path (a partner's full sync pulls every location with its EVSEs and
connectors), so a page is read in a fixed number of plain queries whatever its size:

1. the page itself, as (id, last_updated) only, which the pagination helper seeks or offsets
   through the (last_updated, id) index;
2. those locations' columns, with the owner's country code and party id joined;
3. their EVSEs (REMOVED ones included), 4. those EVSEs' connectors, each in a stable order.

Steps 2-4 read plain values rather than model instances: Django's model construction and its
prefetch machinery (a queryset clone per related lookup) cost more than the serializers
themselves. The rows carry the models' attribute names (and ``evses.all()`` /
``connectors.all()``), which is all the outbound serializer functions read; a test pins the
list output to the object endpoints, which serialize real model instances.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

from django.db.models import Prefetch, QuerySet
from django.db.models.functions import Lower

from locations.models import EVSE, Connector, Location
from roaming.choices import OcpiVersion
from roaming.models import Party
from roaming.modules.locations.serializers import location_to_ocpi
from roaming.modules.rows import Columns, JsonDecoder, Loaded, Row
from roaming.transport.connections import remembered
from roaming.transport.encoding import render_bytes
from roaming.transport.pagination import SetState
from roaming.transport.rendered import Rendered, Stamp, stamp

# Location.country_code and party_id are properties reading the owner.
_LOCATION = Columns.of(Location, country_code="owner__country_code", party_id="owner__party_id")
_EVSE = Columns.of(EVSE)
_CONNECTOR = Columns.of(Connector)


class LocationRow(Row):
    """A Location as the outbound serializers read it."""

    id: int
    evses: Loaded[EVSERow]


class EVSERow(Row):
    """An EVSE as the outbound serializers read it."""

    id: int
    location_id: int
    connectors: Loaded[Row]


def location_page_ids(queryset: QuerySet[Location]) -> QuerySet[Location]:
    """What the pagination helper walks: the sort key of each visible location and its owner.

    Plain named rows (``pk``, ``last_updated``, ``owner_id``), not model instances: a page of
    the sync is mostly cached text (roaming.modules.locations.cache), and building a Location
    and its owner per row would cost more than the rest of the page. The owner's codes, part of
    a location's rendered JSON and so of its stamp, come from ``_owner_codes``: a join to the
    parties made every page, count and marks query of 100,000 locations twice as costly.
    """
    rows = queryset.values_list("pk", "last_updated", "owner_id", named=True)
    return cast(QuerySet[Location], rows)


def location_set(visibility: str, locations_state: str) -> SetState:
    """The names of a visible set and of its state, for reusing its count and marks.

    The name of the rule choosing the set (``roaming.visibility.locations_visible_named``), and
    the state of all locations (``locations.selectors.visibility_state``): any insert, any
    change of a location, its EVSEs or connectors (publication included) moves the latter.
    """
    return SetState(f"locations:{visibility}", locations_state)


def location_stamps(page: Sequence[Any]) -> list[Stamp]:
    """The cache stamps of the rows read by ``location_page_ids``, in page order."""
    codes = _owner_codes({row.owner_id for row in page})
    return [stamp(row.pk, row.last_updated, *codes[row.owner_id]) for row in page]


def _owner_codes(owners: set[int]) -> dict[int, tuple[str, str]]:
    """The country code and party id of (at least) these parties, by primary key.

    As each process remembers them while no party changes (roaming.transport.connections):
    parties are few and change seldom. A party newer than the process's memory is read anew.
    """
    codes = remembered(("party codes",), _party_codes)
    return codes if owners <= codes.keys() else _party_codes()


def _party_codes() -> dict[int, tuple[str, str]]:
    rows = Party.objects.values_list("pk", "country_code", "party_id")
    return {pk: (country_code, party_id) for pk, country_code, party_id in rows}


def location_rows(pks: Sequence[int]) -> list[Location]:
    """These locations with EVSEs and connectors, in the given order, in three queries.

    Typed as Location for the serializer functions, which read nothing else (see above).
    """
    if not pks:
        return []
    decode = JsonDecoder()
    by_pk: dict[int, LocationRow] = {}
    for values in _LOCATION.rows(Location.objects.filter(pk__in=pks), decode):
        row = LocationRow(_LOCATION.names, values)
        row.evses = Loaded()
        by_pk[row.id] = row
    evses: dict[int, EVSERow] = {}
    evse_rows = EVSE.objects.filter(location_id__in=pks).order_by("location_id", "pk")
    for values in _EVSE.rows(evse_rows, decode):
        evse = EVSERow(_EVSE.names, values)
        evse.connectors = Loaded()
        evses[evse.id] = evse
        by_pk[evse.location_id].evses.append(evse)
    # By location, not by EVSE: a third of the parameters for the same rows.
    connector_rows = Connector.objects.filter(evse__location_id__in=pks).order_by("evse_id", "pk")
    for values in _CONNECTOR.rows(connector_rows, decode):
        connector = Row(_CONNECTOR.names, values)
        evses[connector.__dict__["evse_id"]].connectors.append(connector)
    # A location deleted between the two reads is left out rather than failing the page.
    return [cast(Location, by_pk[pk]) for pk in pks if pk in by_pk]


def locations_render(pks: Sequence[int], version: OcpiVersion) -> list[Rendered]:
    """These locations' JSON for `version`, each with the stamp of the row it was rendered from."""
    rendered = []
    for row in location_rows(pks):
        state = stamp(row.id, row.last_updated, row.country_code, row.party_id)
        rendered.append((state, render_bytes(location_to_ocpi(row, version))))
    return rendered


def _connectors() -> QuerySet[Connector]:
    return Connector.objects.order_by("evse_id", "pk")


def _evses() -> QuerySet[EVSE]:
    return EVSE.objects.order_by("location_id", "pk").prefetch_related(
        Prefetch("connectors", queryset=_connectors())
    )


def locations_with_evses(queryset: QuerySet[Location]) -> QuerySet[Location]:
    """`queryset` with owner, EVSEs (REMOVED ones included) and connectors: three queries."""
    return queryset.select_related("owner").prefetch_related(Prefetch("evses", queryset=_evses()))


def location_stamp_find(queryset: QuerySet[Location], location_id: str) -> Stamp | None:
    """The stamp of the location of `queryset` with this OCPI id (see ``location_find``)."""
    row = (
        location_page_ids(queryset)
        .alias(lower_id=Lower("ocpi_id"))
        .filter(lower_id=location_id.lower(), owner__in=Party.objects.ours())
        .first()
    )
    return location_stamps([row])[0] if row is not None else None


def location_find(
    queryset: QuerySet[Location], location_id: str, *, with_evses: bool = True
) -> Location | None:
    """The location of `queryset` with this OCPI id (a CiString), with its owner and, unless
    told otherwise, its EVSEs and connectors loaded (without, ``evse_find`` reads them).

    The owner is narrowed to our identities so that the database can use the
    (owner, lower(id)) unique index instead of scanning every location.
    """
    found = locations_with_evses(queryset) if with_evses else queryset.select_related("owner")
    return (
        found.alias(lower_id=Lower("ocpi_id"))
        .filter(lower_id=location_id.lower(), owner__in=Party.objects.ours())
        .first()
    )


def evse_find(location: Location, evse_uid: str) -> EVSE | None:
    """The EVSE of a location with this uid, compared as CiString."""
    wanted = evse_uid.lower()
    return next((evse for evse in location.evses.all() if evse.uid.lower() == wanted), None)


def connector_find(evse: EVSE, connector_id: str) -> Connector | None:
    """The connector of an EVSE with this id, compared as CiString."""
    wanted = connector_id.lower()
    return next((c for c in evse.connectors.all() if c.ocpi_id.lower() == wanted), None)
