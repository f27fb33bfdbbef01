"""Rendered JSON of each location per OCPI version, reused until the location changes.

A partner's sync reads every location again and again, and serializing a location with its
EVSEs and connectors costs far more than reading its text back. So the list endpoint keeps, in
Django's cache (Redis in production: shared by every worker), each location's rendered JSON under
a key naming everything the text is made of:

* the location's primary key and its ``last_updated``: every change of a location, one of its
  EVSEs or one of their connectors bumps the location's ``last_updated`` (the models' ``save``
  and the connector cascade do), so a changed location is looked up under a new key and never
  served from an old text; old texts are simply never read again and expire;
* its owner's country code and party id, which are read from the owner, not the location;
* the OCPI version, and the version of the rendering (``RENDERING_VERSION`` plus a digest of the
  serializers' source), so that a deployment that changes the output never reads older texts.
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
RENDERING_VERSION = 1
_SOURCE_DIGEST = hashlib.sha1(Path(serializers.__file__).read_bytes()).hexdigest()[:8]
_PREFIX = f"ocpi:location:{RENDERING_VERSION}.{_SOURCE_DIGEST}"

# Unchanged locations stay valid forever; the expiry only returns the memory of changed ones.
TIMEOUT_SECONDS = 7 * 24 * 3600


class LocationStamp(NamedTuple):
    """What names one state of a location's rendered JSON (see the module docstring)."""

    pk: int
    last_updated: datetime
    country_code: str
    party_id: str

    def key(self, version: str) -> str:
        stamp = self.last_updated.isoformat()
        return f"{_PREFIX}:{version}:{self.pk}:{stamp}:{self.country_code}:{self.party_id}"


def rendered_locations(
    stamps: Sequence[LocationStamp],
    version: str,
    render: Callable[[list[int]], list[tuple[LocationStamp, bytes]]],
) -> list[bytes]:
    """The rendered JSON of each location, in `stamps` order: cached texts, the rest rendered.

    `render` renders the locations with the given primary keys, each with the stamp of the row
    it read (it may leave out one deleted meanwhile, which is then left out of the answer too).
    A fresh text is stored under the stamp it was rendered from, so a location that changed
    between the page query and the rendering is never stored under its older key.
    """
    keys = [stamp.key(version) for stamp in stamps]
    cached: dict[str, bytes] = cache.get_many(keys) if keys else {}
    missing = [stamp.pk for stamp, key in zip(stamps, keys, strict=True) if key not in cached]
    if not missing:
        return [cached[key] for key in keys]
    fresh: dict[int, bytes] = {}
    to_store: dict[str, bytes] = {}
    for rendered_stamp, rendered in render(missing):
        fresh[rendered_stamp.pk] = rendered
        to_store[rendered_stamp.key(version)] = rendered
    cache.set_many(to_store, timeout=TIMEOUT_SECONDS)
    texts: list[bytes] = []
    for stamp, key in zip(stamps, keys, strict=True):
        found = cached.get(key) or fresh.get(stamp.pk)
        if found is not None:
            texts.append(found)
    return texts
