"""Hourly delivery figures per partner: counts and a change-to-delivery latency histogram.

Kept as one small row per partner and hour (written by the worker holding the partner's lease,
so without contention) rather than computed from outbox rows, which are purged and may number
millions a day. Percentiles are read from the histogram: the upper bound of the bucket in which
the percentile falls, which is exact enough for a health dashboard.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import F

from roaming.models import PushStats

# Upper bounds of the latency buckets, in seconds; the last bucket holds everything slower.
BUCKETS: tuple[float, ...] = (0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300, 1800)


def hour_of(moment: datetime) -> datetime:
    return moment.replace(minute=0, second=0, microsecond=0)


def histogram_of(latencies: Iterable[float]) -> list[int]:
    counts = [0] * (len(BUCKETS) + 1)
    for seconds in latencies:
        counts[_bucket(seconds)] += 1
    return counts


def _bucket(seconds: float) -> int:
    for index, bound in enumerate(BUCKETS):
        if seconds <= bound:
            return index
    return len(BUCKETS)


def merge(*histograms: Sequence[int]) -> list[int]:
    merged = [0] * (len(BUCKETS) + 1)
    for histogram in histograms:
        for index, count in enumerate(histogram[: len(merged)]):
            merged[index] += count
    return merged


def percentile(histogram: Sequence[int], fraction: float) -> float | None:
    """The latency (seconds) below which ``fraction`` of deliveries fall; None without data."""
    total = sum(histogram)
    if not total:
        return None
    wanted = fraction * total
    running = 0
    for index, count in enumerate(histogram):
        running += count
        if running >= wanted:
            return BUCKETS[index] if index < len(BUCKETS) else float("inf")
    return float("inf")


@dataclass
class Tally:
    """What one flush of a delivery worker adds to the partner's current hour."""

    delivered: int = 0
    failed: int = 0
    dead: int = 0
    latencies: list[float] | None = None

    def __bool__(self) -> bool:
        return bool(self.delivered or self.failed or self.dead or self.latencies)


def stats_record(*, partner_id: int, at: datetime, tally: Tally) -> None:
    """Add a tally to the partner's row of this hour (call inside the flush's transaction)."""
    if not tally:
        return
    latencies = tally.latencies or []
    hour = hour_of(at)
    row, _ = PushStats.objects.select_for_update().get_or_create(
        partner_id=partner_id, hour=hour, defaults={"latency_histogram": histogram_of(())}
    )
    PushStats.objects.filter(pk=row.pk).update(
        delivered=F("delivered") + tally.delivered,
        failed=F("failed") + tally.failed,
        dead=F("dead") + tally.dead,
        latency_ms_total=F("latency_ms_total") + int(sum(latencies) * 1000),
        latency_histogram=merge(row.latency_histogram, histogram_of(latencies)),
    )


def stats_window(*, partner_ids: Iterable[int], since: datetime) -> list[PushStats]:
    return list(
        PushStats.objects.filter(partner_id__in=list(partner_ids), hour__gte=hour_of(since))
        .order_by("hour")
        .only("partner_id", "hour", "delivered", "failed", "dead", "latency_histogram")
    )


def hours_back(now: datetime, hours: int) -> list[datetime]:
    """The start of each of the last ``hours`` hours, oldest first, the current one last."""
    current = hour_of(now)
    return [current - timedelta(hours=offset) for offset in range(hours - 1, -1, -1)]
