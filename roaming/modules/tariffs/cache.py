"""Rendered JSON of each tariff per OCPI version, reused until the tariff changes.

The store is roaming.transport.rendered. A tariff's text is stamped with

* its ``last_updated``: every change of a tariff, one of its elements or one of their price
  components bumps it (the models' ``save`` and ``delete`` do); a tariff written from an OCPI
  object keeps the object's own ``last_updated``, which names that object's state;
* its owner's country code and party id, which are read from the owner, not the tariff.

A tariff the version cannot express at all is kept as an empty text, so that it is not rendered
again only to be left out again.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial
from typing import Any, cast

from django.db.models import QuerySet

from billing.models import Tariff
from roaming.choices import OcpiVersion
from roaming.modules import common
from roaming.modules.tariffs import serializers
from roaming.transport import encoding
from roaming.transport.rendered import Rendered, RenderedTexts, stamp

# Bump when the JSON of a tariff changes for a reason the hashed sources do not show.
RENDERING_VERSION = 2
TARIFF_TEXTS = RenderedTexts(
    "tariff",
    rendering_version=RENDERING_VERSION,
    sources=(serializers.__file__, common.__file__),
)


def tariff_page_keys(visible: QuerySet[Tariff]) -> QuerySet[Tariff]:
    """What the pagination helper walks: each tariff's sort key and what its stamp names, as
    named rows (typed as tariffs for it); whole tariffs are read only to be rendered."""
    rows = visible.values_list(
        "pk", "last_updated", "owner__country_code", "owner__party_id", named=True
    )
    return cast(QuerySet[Tariff], rows)


def rendered_tariffs(keys: Sequence[Any], version: OcpiVersion) -> list[bytes]:
    """The rendered JSON of each tariff of a page of ``tariff_page_keys`` the version can
    express, in order.

    The elements and components are read after the page, so a text holds a state at least as new
    as the stamp it is stored under; a newer stamp is a miss that renders it again.
    """
    stamps = [stamp(*key) for key in keys]
    texts = TARIFF_TEXTS.texts(stamps, version, partial(_render, version=version))
    return [text for text in texts if text]


def _render(pks: Sequence[int], version: OcpiVersion) -> list[Rendered]:
    tariffs = (
        Tariff.objects.filter(pk__in=pks)
        .select_related("owner")
        .prefetch_related("elements__price_components")
    )
    return [
        (
            stamp(tariff.pk, tariff.last_updated, tariff.country_code, tariff.party_id),
            _text(tariff, version),
        )
        for tariff in tariffs
    ]


def _text(tariff: Tariff, version: OcpiVersion) -> bytes:
    shown = serializers.tariff_to_ocpi(tariff, version)
    return b"" if shown is None else encoding.render_bytes(shown)
