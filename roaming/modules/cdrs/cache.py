"""Rendered JSON of each CDR per OCPI version (2.2.1 on), reused for good.

The store is roaming.transport.rendered. A CDR never changes once made (a correction is a new,
credit CDR), so its text is stamped only with what it is read with besides its own row: its
owner's country code and party id (and, for form, its ``last_updated``). OCPI 2.1.1 embeds our
live location in a CDR, which changes on its own: those texts are rendered every time.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial

from billing.models import CDR
from roaming.choices import OcpiVersion
from roaming.modules import common
from roaming.modules.cdrs import serializers
from roaming.modules.cdrs.selectors import cdrs_of_page
from roaming.transport import encoding
from roaming.transport.rendered import Rendered, RenderedTexts, in_page_order, stamp

# Bump when the JSON of a CDR changes for a reason the hashed sources do not show.
RENDERING_VERSION = 1
CDR_TEXTS = RenderedTexts(
    "cdr",
    rendering_version=RENDERING_VERSION,
    sources=(serializers.__file__, common.__file__),
)


def rendered_cdrs(pks: Sequence[int], version: OcpiVersion) -> list[bytes]:
    """The JSON of these CDRs for `version`, in order (one left out if deleted meanwhile)."""
    if version == OcpiVersion.V2_1_1:
        return [_text(cdr, version) for cdr in cdrs_of_page(pks, version)]
    stamped = CDR.objects.filter(pk__in=pks).values_list(
        "pk", "last_updated", "owner__country_code", "owner__party_id"
    )
    stamps = in_page_order(pks, (stamp(*row) for row in stamped))
    return CDR_TEXTS.texts(stamps, version, partial(_render, version=version))


def _render(pks: Sequence[int], version: OcpiVersion) -> list[Rendered]:
    return [
        (stamp(cdr.pk, cdr.last_updated, cdr.country_code, cdr.party_id), _text(cdr, version))
        for cdr in cdrs_of_page(pks, version)
    ]


def _text(cdr: CDR, version: OcpiVersion) -> bytes:
    return encoding.render_bytes(serializers.cdr_to_ocpi(cdr, version))
