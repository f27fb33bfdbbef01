"""Rendered JSON of each location per OCPI version, reused until the location changes.

A partner's sync reads every location again and again, and serializing a location with its
EVSEs and connectors costs far more than reading its text back. So the list endpoint keeps, in
Django's cache (Redis in production: shared by every worker), each location's rendered JSON.

One entry per location and version (the key names the primary key, the OCPI version and the
version of the rendering: ``RENDERING_VERSION`` plus a digest of the serializers' source, so that
a deployment that changes the output never reads older texts). The entry holds the text with the
stamp of the state it was rendered from:

* the location's ``last_updated``: every change of a location, one of its EVSEs or one of their
  connectors bumps it (the models' ``save`` and the connector cascade do);
* its owner's country code and party id, which are read from the owner, not the location.

A text whose stamp is not the location's current one is a miss, so nothing is served stale, and
a change overwrites the entry instead of leaving the old text behind: the cache holds one text
per location and version however often statuses change.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import NamedTuple

from django.core.cache import cache

from roaming.modules.locations import serializers

# Bump when the JSON of a location changes for a reason the serializers' source does not show
# (a value object, the encoder).
RENDERING_VERSION = 2
_SOURCE_DIGEST = hashlib.sha1(Path(serializers.__file__).read_bytes()).hexdigest()[:8]
PREFIX = f"ocpi:location:{RENDERING_VERSION}.{_SOURCE_DIGEST}"

# Entries are overwritten on change; the expiry only returns the memory of deleted locations
# (the warming task renders again whatever expired, see roaming.modules.locations.warming).
TIMEOUT_SECONDS = 30 * 24 * 3600


class LocationStamp(NamedTuple):
    """What names one state of a location's rendered JSON (see the module docstring)."""

    pk: int
    last_updated: datetime
    country_code: str
    party_id: str

    def key(self, version: str) -> str:
        return f"{PREFIX}:{version}:{self.pk}"

    def tag(self) -> bytes:
        return f"{self.last_updated.isoformat()}|{self.country_code}|{self.party_id}\n".encode()


def cached_texts(stamps: Sequence[LocationStamp], version: str) -> dict[int, bytes]:
    """The cached text of each location whose entry was rendered from its current stamp."""
    if not stamps:
        return {}
    entries: dict[str, bytes] = cache.get_many([stamp.key(version) for stamp in stamps])
    texts: dict[int, bytes] = {}
    for stamp in stamps:
        entry = entries.get(stamp.key(version))
        if entry is not None:
            tag = stamp.tag()
            if entry.startswith(tag):
                texts[stamp.pk] = entry[len(tag) :]
    return texts


def store_texts(rendered: Sequence[tuple[LocationStamp, bytes]], version: str) -> None:
    """Keep each text under its location, tagged with the stamp of the row it was rendered from."""
    if rendered:
        entries = {stamp.key(version): stamp.tag() + text for stamp, text in rendered}
        cache.set_many(entries, timeout=TIMEOUT_SECONDS)


def rendered_locations(
    stamps: Sequence[LocationStamp],
    version: str,
    render: Callable[[list[int]], list[tuple[LocationStamp, bytes]]],
) -> list[bytes]:
    """The rendered JSON of each location, in `stamps` order: cached texts, the rest rendered.

    `render` renders the locations with the given primary keys, each with the stamp of the row
    it read (it may leave out one deleted meanwhile, which is then left out of the answer too).
    A fresh text is tagged with the stamp it was rendered from, so a location that changed
    between the page query and the rendering is never stored as its older state.
    """
    texts = cached_texts(stamps, version)
    missing = [stamp.pk for stamp in stamps if stamp.pk not in texts]
    if missing:
        fresh = render(missing)
        store_texts(fresh, version)
        texts.update((stamp.pk, text) for stamp, text in fresh)
    return [texts[stamp.pk] for stamp in stamps if stamp.pk in texts]
