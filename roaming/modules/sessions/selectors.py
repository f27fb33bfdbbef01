"""Read-side queries of the sessions sender: a page of sessions in two steps (a deferred join).

A page at an offset makes the database walk every earlier row. Asked for whole sessions with
their owner, location, EVSE and connector, it read and joined all those earlier rows only to
throw them away. So the page is read in two steps:

1. the page itself, as (pk, last_updated) only (``session_page_keys``): the pagination helper
   offsets or seeks through the (emsp, last_updated, id) index, an index-only walk;
2. the whole sessions of just those keys, in page order (``sessions_of_page``), with what the
   version reads of their location, EVSE and connector: 2.1.1 embeds the location, later
   versions name it, and reading (and decoding the JSON of) whole location, EVSE and connector
   rows only to take their ids cost more than the rest of the page.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import cast

from django.db.models import QuerySet

from roaming.choices import OcpiVersion
from roaming.modules.sessions.serializers import sessions_for_ocpi
from roaming.transport.rendered import in_page_order
from sessions_app.models import Session

# What ``session_to_ocpi`` reads of the related rows after 2.1.1: the owner's codes and the ids.
_NAMED_ONLY = (
    *("owner__country_code", "owner__party_id"),
    *("location__ocpi_id", "evse__uid", "connector__ocpi_id"),
)


def session_page_keys(visible: QuerySet[Session]) -> QuerySet[Session]:
    """What the pagination helper walks: the sort key of each visible session, nothing else.

    Named rows with ``pk`` and ``last_updated`` (all the helper reads of a page's items), typed
    as sessions for it.
    """
    return cast(QuerySet[Session], visible.values_list("pk", "last_updated", named=True))


def _for_version(queryset: QuerySet[Session], version: OcpiVersion) -> QuerySet[Session]:
    queryset = sessions_for_ocpi(queryset)
    if version == OcpiVersion.V2_1_1:
        return queryset
    own = [field.name for field in Session._meta.concrete_fields]
    return queryset.only(*own, *_NAMED_ONLY)


def sessions_of_page(pks: Sequence[int], version: OcpiVersion) -> list[Session]:
    """These sessions (of a page read by ``session_page_keys``), in order, ready to serialize.

    A session deleted between the two reads is left out rather than failing the page.
    """
    if not pks:
        return []
    queryset = _for_version(Session.objects.filter(pk__in=pks), version).order_by()
    return in_page_order(pks, queryset)
