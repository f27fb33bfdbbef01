"""Rendered JSON of each tariff per OCPI version, reused until the tariff changes.

Every tariffs page used to serialize each tariff with its elements and price components again,
though tariffs change seldom. As for locations (roaming.modules.locations.cache), the list
endpoint keeps each tariff's rendered JSON in Django's cache (Redis in production: shared by
every worker).

One entry per tariff and version; the key names the primary key, the OCPI version and the
version of the rendering (``RENDERING_VERSION`` plus a digest of the source of the serializers,
their shared helpers and the encoder, so that a deployment that changes the output never reads
older texts). The entry holds the text with the stamp of the state it was rendered from:

* the tariff's ``last_updated``: every change of a tariff, one of its elements or one of their
  price components bumps it (the models' ``save`` and ``delete`` do); a tariff written from an
  OCPI object keeps the object's own ``last_updated``, which names that object's state;
* its owner's country code and party id, which are read from the owner, not the tariff.

A text whose stamp is not the tariff's current one is a miss, so nothing is served stale. A
tariff the version cannot express at all is kept as an empty text, so that it is not rendered
again only to be left out again.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

from django.core.cache import cache
from django.db.models import prefetch_related_objects

from billing.models import Tariff
from roaming.choices import OcpiVersion
from roaming.modules import common
from roaming.modules.tariffs import serializers
from roaming.transport import encoding

# Bump when the JSON of a tariff changes for a reason the hashed sources do not show.
RENDERING_VERSION = 1
_SOURCES = (serializers.__file__, common.__file__, encoding.__file__)
_SOURCE_DIGEST = hashlib.sha1(b"".join(Path(p).read_bytes() for p in _SOURCES)).hexdigest()[:8]
PREFIX = f"ocpi:tariff:{RENDERING_VERSION}.{_SOURCE_DIGEST}"

# Entries are overwritten on change; the expiry only returns the memory of deleted tariffs.
TIMEOUT_SECONDS = 30 * 24 * 3600


class TariffStamp(NamedTuple):
    """What names one state of a tariff's rendered JSON (see the module docstring)."""

    pk: int
    tag: bytes

    @classmethod
    def of(cls, tariff: Tariff) -> TariffStamp:
        """The stamp of a tariff read with its owner."""
        tag = f"{tariff.last_updated.isoformat()}|{tariff.country_code}|{tariff.party_id}\n"
        return cls(tariff.pk, tag.encode())

    def key(self, version: str) -> str:
        return f"{PREFIX}:{version}:{self.pk}"


def _cached_texts(stamps: Sequence[TariffStamp], version: str) -> dict[int, bytes]:
    """The cached text of each tariff whose entry was rendered from its current stamp."""
    entries: dict[str, bytes] = cache.get_many([stamp.key(version) for stamp in stamps])
    texts: dict[int, bytes] = {}
    for stamp in stamps:
        entry = entries.get(stamp.key(version))
        if entry is not None and entry.startswith(stamp.tag):
            texts[stamp.pk] = entry[len(stamp.tag) :]
    return texts


def _render(tariffs: Sequence[Tariff], version: OcpiVersion) -> dict[int, bytes]:
    """These tariffs' JSON (empty when the version cannot express one), stored under their stamps.

    The elements and components are read after the tariff rows, so a text holds a state at least
    as new as the stamp it is stored under; a newer stamp is a miss that renders it again.
    """
    prefetch_related_objects(list(tariffs), "elements__price_components")
    entries: dict[str, bytes] = {}
    texts: dict[int, bytes] = {}
    for tariff in tariffs:
        shown = serializers.tariff_to_ocpi(tariff, version)
        text = b"" if shown is None else encoding.render_bytes(shown)
        stamp = TariffStamp.of(tariff)
        entries[stamp.key(version)] = stamp.tag + text
        texts[tariff.pk] = text
    cache.set_many(entries, timeout=TIMEOUT_SECONDS)
    return texts


def rendered_tariffs(tariffs: Sequence[Tariff], version: OcpiVersion) -> list[bytes]:
    """The rendered JSON of each tariff (read with its owner) the version can express, in order.

    Cached texts where their stamp is the tariff's current one; the others rendered and stored.
    """
    if not tariffs:
        return []
    texts = _cached_texts([TariffStamp.of(tariff) for tariff in tariffs], version)
    missing = [tariff for tariff in tariffs if tariff.pk not in texts]
    if missing:
        texts.update(_render(missing, version))
    return [text for text in (texts[tariff.pk] for tariff in tariffs) if text]
