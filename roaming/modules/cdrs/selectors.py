"""Read-side queries of the CDRs sender: a page of CDRs in two steps (a deferred join).

CDRs are wide rows (the location, tariff and charging period copies are JSON). Asked for whole
CDRs ordered by (last_updated, id) at an offset, the database found it cheaper to read and sort
all of an eMSP's CDRs than to walk the (emsp, last_updated, id) index and fetch each earlier row
only to skip it. So the page is read in two steps:

1. the page itself, as (pk, last_updated) only (``cdr_page_keys``): the pagination helper offsets
   or seeks through that index, an index-only walk that never touches the wide rows;
2. the whole CDRs of just those keys, in page order (``cdrs_of_page``), or rather their
   rendered JSON, kept for good (roaming.modules.cdrs.cache). After 2.1.1 a CDR reads nothing
   but its own row and its owner's codes, so they are read as plain rows (roaming.modules.rows):
   model instances cost more than rendering them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import cast

from django.db.models import QuerySet

from billing.models import CDR
from roaming.choices import OcpiVersion
from roaming.modules.cdrs.serializers import cdrs_for_ocpi
from roaming.modules.rows import Columns, JsonDecoder, Row
from roaming.transport.rendered import in_page_order


def cdr_page_keys(visible: QuerySet[CDR]) -> QuerySet[CDR]:
    """What the pagination helper walks: the sort key of each visible CDR, nothing else.

    Named rows with ``pk`` and ``last_updated`` (all the helper reads of a page's items), typed
    as CDRs for it.
    """
    return cast(QuerySet[CDR], visible.values_list("pk", "last_updated", named=True))


def cdrs_of_page(pks: Sequence[int], version: OcpiVersion) -> list[CDR]:
    """These CDRs (of a page read by ``cdr_page_keys``), in order, with what `version` reads.

    A CDR gone between the two reads is left out rather than failing the page.
    """
    if not pks:
        return []
    # Only 2.1.1 embeds our live location; later versions read the CDR's own copy.
    if version != OcpiVersion.V2_1_1:
        return in_page_order(pks, _cdr_rows(pks))
    return in_page_order(pks, cdrs_for_ocpi(CDR.objects.filter(pk__in=pks)).order_by())


# CDR.country_code and party_id are properties reading the owner.
_CDR = Columns.of(CDR, country_code="owner__country_code", party_id="owner__party_id")


def _cdr_rows(pks: Sequence[int]) -> list[CDR]:
    """These CDRs as ``cdr_to_ocpi`` (after 2.1.1) and the stamp of its text read them."""
    decode = JsonDecoder()
    rows = _CDR.rows(CDR.objects.filter(pk__in=pks).order_by(), decode)
    return cast(list[CDR], [Row(_CDR.names, values) for values in rows])
