"""Read-side queries of the sessions sender: a page of sessions in two steps (a deferred join).

A page at an offset makes the database walk every earlier row. Asked for whole sessions with
their owner, location, EVSE and connector, it read and joined all those earlier rows only to
throw them away. So the page is read in two steps:

1. the page itself, as (pk, last_updated) only (``session_page_keys``): the pagination helper
   offsets or seeks through the (emsp, last_updated, id) index, an index-only walk;
2. the whole sessions of just those keys, in page order (``sessions_of_page``), with what the
   version reads of their location, EVSE and connector: 2.1.1 embeds the location, later
   versions name it, and reading (and decoding the JSON of) whole location, EVSE and connector
   rows only to take their ids cost more than the rest of the page. After 2.1.1 they are read
   as plain rows (roaming.modules.rows) in two queries, the sessions with those ids and their
   charging periods: building a model instance for each session, its four related rows and its
   periods cost more than rendering them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import cast

from django.db.models import QuerySet

from roaming.choices import OcpiVersion
from roaming.modules.rows import Columns, JsonDecoder, Loaded, Row
from roaming.modules.sessions.serializers import sessions_for_ocpi
from roaming.transport.rendered import in_page_order
from sessions_app.models import Session, SessionChargingPeriod


def session_page_keys(visible: QuerySet[Session]) -> QuerySet[Session]:
    """What the pagination helper walks: the sort key of each visible session, nothing else.

    Named rows with ``pk`` and ``last_updated`` (all the helper reads of a page's items), typed
    as sessions for it.
    """
    return cast(QuerySet[Session], visible.values_list("pk", "last_updated", named=True))


def sessions_of_page(pks: Sequence[int], version: OcpiVersion) -> list[Session]:
    """These sessions (of a page read by ``session_page_keys``), in order, ready to serialize.

    A session deleted between the two reads is left out rather than failing the page.
    """
    if not pks:
        return []
    if version != OcpiVersion.V2_1_1:
        return in_page_order(pks, _session_rows(pks))
    return in_page_order(pks, sessions_for_ocpi(Session.objects.filter(pk__in=pks)).order_by())


# Session.country_code and party_id are properties reading the owner; the location, EVSE and
# connector are read for their ids only.
_SESSION = Columns.of(
    Session,
    **{"country_code": "owner__country_code", "party_id": "owner__party_id"},
    **{"location_ocpi_id": "location__ocpi_id", "evse_uid": "evse__uid"},
    connector_ocpi_id="connector__ocpi_id",
)
_PERIOD = Columns.of(SessionChargingPeriod)


class SessionRow(Row):
    """A Session as ``session_to_ocpi`` (after 2.1.1) and the stamp of its text read it."""

    id: int
    country_code: str
    party_id: str
    location_ocpi_id: str
    evse_uid: str
    connector_ocpi_id: str
    charging_periods: Loaded[Row]

    @property
    def owner(self) -> Row:
        return Row(("country_code", "party_id"), (self.country_code, self.party_id))

    @property
    def location(self) -> Row:
        return Row(("ocpi_id",), (self.location_ocpi_id,))

    @property
    def evse(self) -> Row:
        return Row(("uid",), (self.evse_uid,))

    @property
    def connector(self) -> Row:
        return Row(("ocpi_id",), (self.connector_ocpi_id,))


def _session_rows(pks: Sequence[int]) -> list[Session]:
    """These sessions with their charging periods (in the model's order), in two queries."""
    decode = JsonDecoder()
    by_pk: dict[int, SessionRow] = {}
    for values in _SESSION.rows(Session.objects.filter(pk__in=pks).order_by(), decode):
        row = SessionRow(_SESSION.names, values)
        row.charging_periods = Loaded()
        by_pk[row.id] = row
    periods = SessionChargingPeriod.objects.filter(session_id__in=pks)
    for values in _PERIOD.rows(periods, decode):
        period = Row(_PERIOD.names, values)
        session = by_pk.get(period.__dict__["session_id"])
        if session is not None:  # None: a session made between the two reads (not of the page)
            session.charging_periods.append(period)
    return cast(list[Session], list(by_pk.values()))
