"""Keeps the cached JSON of every location current, so that a partner's pull does not render.

Rendering a location with its EVSEs and connectors costs several times what reading its text
back does, and a full sync reads all of them. So a worker renders ahead of the partners: every
few seconds (the beat schedule) it renders, for each OCPI version a registered partner speaks,
the locations changed since its previous run; once a day, and whenever the cache has lost its
place (a deployment that changes the rendering, an emptied cache), it goes through them all and
renders those whose text is missing or stale. A pull then finds every location rendered, except
one changed in the last seconds, which the list endpoint renders itself.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.core.cache import cache
from django.db.models import Q
from django.utils import timezone

from locations.models import Location
from roaming.choices import OcpiVersion
from roaming.models import Partner
from roaming.modules.locations.cache import LOCATION_TEXTS
from roaming.modules.locations.selectors import (
    location_page_ids,
    location_stamps,
    locations_render,
)
from roaming.transport.rendered import Stamp

BATCH_SIZE = 500
# A change is picked up by a later run even if its transaction commits this long after the
# location's last_updated was set.
WATERMARK_OVERLAP = timedelta(seconds=60)
# How long a run's place is kept: when it is gone, the next run goes through every location.
FULL_SWEEP_SECONDS = 24 * 3600
_LOCK_KEY = f"{LOCATION_TEXTS.prefix}:warming"
_LOCK_SECONDS = 900


@dataclass(frozen=True)
class WarmingRun:
    """What one run did for one version: locations looked at, and those it rendered."""

    version: OcpiVersion
    full: bool
    checked: int
    rendered: int


def versions_in_use() -> list[OcpiVersion]:
    """The OCPI versions of the registered connections, oldest first."""
    spoken = set(Partner.objects.registered().values_list("version", flat=True))
    return [version for version in OcpiVersion if version.value in spoken]


def warm_rendered_locations(
    *, full: bool = False, versions: Sequence[OcpiVersion] | None = None
) -> list[WarmingRun]:
    """Render what the cache lacks, for `versions` (default: those in use); one run at a time.

    Returns nothing when another run holds the lock.
    """
    if not cache.add(_LOCK_KEY, 1, timeout=_LOCK_SECONDS):
        return []
    try:
        chosen = versions_in_use() if versions is None else list(versions)
        return [_warm(version, full=full) for version in chosen]
    finally:
        cache.delete(_LOCK_KEY)


def _warm(version: OcpiVersion, *, full: bool) -> WarmingRun:
    started = timezone.now()
    watermark_key = f"{LOCATION_TEXTS.prefix}:{version}:warmed-until"
    since: datetime | None = None if full else cache.get(watermark_key)
    checked = rendered = 0
    for stamps in _stamp_batches(since - WATERMARK_OVERLAP if since else None):
        texts = LOCATION_TEXTS.cached(stamps, version)
        missing = [stamp.pk for stamp in stamps if stamp.pk not in texts]
        LOCATION_TEXTS.store(locations_render(missing, version), version)
        checked += len(stamps)
        rendered += len(missing)
    cache.set(watermark_key, started, timeout=FULL_SWEEP_SECONDS)
    return WarmingRun(version, since is None, checked, rendered)


def _stamp_batches(since: datetime | None) -> Iterator[list[Stamp]]:
    """Every location (changed at or after `since`) in (last_updated, pk) order, by batches."""
    locations = Location.objects.all()
    if since is not None:
        locations = locations.filter(last_updated__gte=since)
    rows = location_page_ids(locations).order_by("last_updated", "pk")
    after: Q | None = None
    while True:
        batch = list((rows.filter(after) if after is not None else rows)[:BATCH_SIZE])
        if not batch:
            return
        yield location_stamps(batch)
        last = batch[-1]
        after = Q(last_updated__gt=last.last_updated) | Q(
            last_updated=last.last_updated, pk__gt=last.pk
        )
