"""Rendered JSON of each tariff per OCPI version, reused until the tariff changes.

The store is roaming.transport.rendered. A tariff's text is tagged with

* its ``last_updated``: every change of a tariff, one of its elements or one of their price
  components bumps it (the models' ``save`` and ``delete`` do); a tariff written from an OCPI
  object keeps the object's own ``last_updated``, which names that object's state;
* its owner's country code and party id, which are read from the owner, not the tariff.

A tariff the version cannot express at all is kept as an empty text, so that it is not rendered
again only to be left out again.
"""

from __future__ import annotations

from collections.abc import Sequence

from django.db.models import prefetch_related_objects

from billing.models import Tariff
from roaming.choices import OcpiVersion
from roaming.modules import common
from roaming.modules.tariffs import serializers
from roaming.transport import encoding
from roaming.transport.rendered import Rendered, RenderedTexts, Stamp

# Bump when the JSON of a tariff changes for a reason the hashed sources do not show.
RENDERING_VERSION = 2
TARIFF_TEXTS = RenderedTexts(
    "tariff",
    rendering_version=RENDERING_VERSION,
    sources=(serializers.__file__, common.__file__, encoding.__file__),
)


def tariff_stamp(tariff: Tariff) -> Stamp:
    """The stamp of a tariff read with its owner (see the module docstring)."""
    tag = f"{tariff.last_updated.isoformat()}|{tariff.country_code}|{tariff.party_id}\n"
    return Stamp(tariff.pk, tag.encode())


def rendered_tariffs(tariffs: Sequence[Tariff], version: OcpiVersion) -> list[bytes]:
    """The rendered JSON of each tariff (read with its owner) the version can express, in order.

    The elements and components are read after the tariff rows, so a text holds a state at least
    as new as the stamp it is stored under; a newer stamp is a miss that renders it again.
    """
    by_pk = {tariff.pk: tariff for tariff in tariffs}

    def render(pks: list[int]) -> list[Rendered]:
        missing = [by_pk[pk] for pk in pks]
        prefetch_related_objects(missing, "elements__price_components")
        return [(tariff_stamp(tariff), _text(tariff, version)) for tariff in missing]

    texts = TARIFF_TEXTS.texts([tariff_stamp(tariff) for tariff in tariffs], version, render)
    return [text for text in texts if text]


def _text(tariff: Tariff, version: OcpiVersion) -> bytes:
    shown = serializers.tariff_to_ocpi(tariff, version)
    return b"" if shown is None else encoding.render_bytes(shown)
