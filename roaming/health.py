"""Partner health: per partner connection, how pushes and pulls are going, worst first.

Read by the admin dashboard (``PartnerHealthAdmin``). Figures come from the outbox (depth by
state, recent errors with the partner's answers), the hourly delivery figures
(``roaming.push.stats``: success rate and change-to-delivery latency over 24 hours and 7 days),
the push channel (last delivery, backoff) and the pull runs. Charts are inline SVG built here, so
the page needs no JavaScript and no network.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import IntEnum

from django.db.models import Count, Max, Min, QuerySet
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe

from roaming.choices import ModuleID
from roaming.models import (
    OutboxRow,
    OutboxState,
    Partner,
    PartnerState,
    PullRun,
    PullState,
    PushChannel,
    PushStats,
)
from roaming.push.stats import BUCKETS, hour_of, hours_back, merge, percentile

RECENT_ERRORS = 5
# Thresholds of the colours.
STUCK_AFTER = timedelta(minutes=5)
SLOW_P95_SECONDS = 5.0
GOOD_SUCCESS_RATE = 0.99
BAD_SUCCESS_RATE = 0.9
PULL_LATE_AFTER = timedelta(hours=1)


class Severity(IntEnum):
    OK = 0
    WARNING = 1
    TROUBLE = 2

    @property
    def css(self) -> str:
        return {0: "ok", 1: "warning", 2: "trouble"}[self.value]


@dataclass(frozen=True)
class Bucket:
    start: datetime
    delivered: int
    failed: int
    p95: float | None

    @property
    def attempts(self) -> int:
        return self.delivered + self.failed


@dataclass(frozen=True)
class Window:
    """Delivery figures of one period."""

    label: str
    delivered: int
    failed: int
    p50: float | None
    p95: float | None
    buckets: tuple[Bucket, ...]

    @property
    def success_rate(self) -> float | None:
        attempts = self.delivered + self.failed
        return self.delivered / attempts if attempts else None

    @property
    def success_rate_percent(self) -> str:
        rate = self.success_rate
        return "" if rate is None else f"{rate:.1%}"

    @property
    def chart(self) -> SafeString:
        return bar_chart(self.buckets, label=f"Deliveries, {self.label}")


@dataclass
class PartnerHealthRow:
    partner: Partner
    depth: dict[str, int]
    oldest_waiting: datetime | None
    channel: PushChannel | None
    day: Window
    week: Window
    last_pull: PullRun | None
    last_good_pull: PullRun | None
    errors: list[OutboxRow]
    severity: Severity = Severity.OK
    reasons: list[str] = field(default_factory=list)

    @property
    def windows(self) -> list[tuple[Window, str]]:
        return [(self.day, self.day.label), (self.week, self.week.label)]

    @property
    def open_rows(self) -> int:
        return sum(
            self.depth.get(state, 0)
            for state in (OutboxState.PENDING, OutboxState.IN_FLIGHT, OutboxState.RETRYING)
        )


def partner_health(*, now: datetime | None = None) -> list[PartnerHealthRow]:
    """One row per partner that is not unregistered, partners in trouble first."""
    now = now or timezone.now()
    partners = list(
        Partner.objects.exclude(state=PartnerState.UNREGISTERED)
        .prefetch_related("parties")
        .order_by("name", "pk")
    )
    ids = [partner.pk for partner in partners]
    depth = _depth(ids)
    oldest = _oldest_waiting(ids)
    channels = {c.partner_id: c for c in PushChannel.objects.filter(partner_id__in=ids)}
    stats = _stats(ids, now - timedelta(days=7))
    pulls = _pulls(ids)
    errors = _errors(ids)
    rows = []
    for partner in partners:
        last_pull, last_good_pull = pulls.get(partner.pk, (None, None))
        row = PartnerHealthRow(
            partner=partner,
            depth=depth.get(partner.pk, {}),
            oldest_waiting=oldest.get(partner.pk),
            channel=channels.get(partner.pk),
            day=_window(
                "last 24 hours", stats.get(partner.pk, []), hours_back(now, 24), hours_per_bucket=1
            ),
            week=_window(
                "last 7 days",
                stats.get(partner.pk, []),
                hours_back(now, 24 * 7),
                hours_per_bucket=6,
            ),
            last_pull=last_pull,
            last_good_pull=last_good_pull,
            errors=errors.get(partner.pk, []),
        )
        _judge(row, now)
        rows.append(row)
    rows.sort(key=lambda row: (-row.severity, row.partner.name.lower(), row.partner.pk))
    return rows


# --- reading ---------------------------------------------------------------------------------------


def _depth(ids: list[int]) -> dict[int, dict[str, int]]:
    # Open and dead rows are counted apart: each has its own (partial) index.
    depth: dict[int, dict[str, int]] = defaultdict(dict)
    for states in (
        [OutboxState.PENDING, OutboxState.IN_FLIGHT, OutboxState.RETRYING],
        [OutboxState.DEAD],
    ):
        counted = (
            OutboxRow.objects.filter(partner_id__in=ids, state__in=states)
            .order_by()
            .values("partner_id", "state")
            .annotate(n=Count("pk"))
        )
        for item in counted:
            depth[item["partner_id"]][item["state"]] = item["n"]
    return depth


def _oldest_waiting(ids: list[int]) -> dict[int, datetime]:
    oldest = (
        OutboxRow.objects.filter(
            partner_id__in=ids,
            state__in=[OutboxState.PENDING, OutboxState.RETRYING, OutboxState.IN_FLIGHT],
        )
        .order_by()
        .values("partner_id")
        .annotate(first=Min("created_at"))
    )
    return {item["partner_id"]: item["first"] for item in oldest}


def _stats(ids: list[int], since: datetime) -> dict[int, list[PushStats]]:
    by_partner: dict[int, list[PushStats]] = defaultdict(list)
    for row in PushStats.objects.filter(partner_id__in=ids, hour__gte=hour_of(since)).order_by(
        "hour"
    ):
        by_partner[row.partner_id].append(row)
    return by_partner


def _pulls(ids: list[int]) -> dict[int, tuple[PullRun | None, PullRun | None]]:
    result: dict[int, tuple[PullRun | None, PullRun | None]] = {}
    runs: QuerySet[PullRun] = PullRun.objects.filter(module=ModuleID.TOKENS)
    latest = runs.filter(partner_id__in=ids).values("partner_id").annotate(last=Max("pk"))
    good = (
        runs.filter(partner_id__in=ids, state=PullState.SUCCEEDED)
        .values("partner_id")
        .annotate(last=Max("pk"))
    )
    wanted = {item["last"] for item in latest} | {item["last"] for item in good}
    loaded = {run.pk: run for run in PullRun.objects.filter(pk__in=wanted)}
    good_by_partner = {item["partner_id"]: loaded.get(item["last"]) for item in good}
    for item in latest:
        result[item["partner_id"]] = (
            loaded.get(item["last"]),
            good_by_partner.get(item["partner_id"]),
        )
    return result


def _errors(ids: list[int]) -> dict[int, list[OutboxRow]]:
    errors: dict[int, list[OutboxRow]] = {}
    for partner_id in ids:
        recent = [
            row
            for state in (OutboxState.DEAD, OutboxState.RETRYING)
            for row in OutboxRow.objects.filter(partner_id=partner_id, state=state)
            .exclude(last_error="")
            .order_by("-id")[:RECENT_ERRORS]
        ]
        errors[partner_id] = sorted(recent, key=lambda row: -row.pk)[:RECENT_ERRORS]
    return errors


def _window(
    label: str, stats: Sequence[PushStats], hours: list[datetime], *, hours_per_bucket: int
) -> Window:
    by_hour = {row.hour: row for row in stats}
    buckets = []
    all_histograms = []
    delivered = failed = 0
    for start in range(0, len(hours), hours_per_bucket):
        chunk = [by_hour[h] for h in hours[start : start + hours_per_bucket] if h in by_hour]
        histogram = merge(*(row.latency_histogram for row in chunk))
        all_histograms.append(histogram)
        bucket_delivered = sum(row.delivered for row in chunk)
        bucket_failed = sum(row.failed + row.dead for row in chunk)
        delivered += bucket_delivered
        failed += bucket_failed
        buckets.append(
            Bucket(
                start=hours[start],
                delivered=bucket_delivered,
                failed=bucket_failed,
                p95=percentile(histogram, 0.95),
            )
        )
    overall = merge(*all_histograms)
    return Window(
        label=label,
        delivered=delivered,
        failed=failed,
        p50=percentile(overall, 0.5),
        p95=percentile(overall, 0.95),
        buckets=tuple(buckets),
    )


# --- judging -------------------------------------------------------------------------------------


def _judge(row: PartnerHealthRow, now: datetime) -> None:
    def flag(severity: Severity, reason: str) -> None:
        row.severity = max(row.severity, severity)
        row.reasons.append(reason)

    partner = row.partner
    if partner.state != PartnerState.REGISTERED:
        flag(Severity.WARNING, f"Connection {partner.get_state_display().lower()}.")
    channel = row.channel
    if channel is not None and channel.retry_at is not None and channel.retry_at > now:
        flag(
            Severity.TROUBLE,
            f"Failing: {channel.failures} failure(s) in a row, next try "
            f"{channel.retry_at:%H:%M:%S} UTC.",
        )
    dead = row.depth.get(OutboxState.DEAD, 0)
    if dead:
        flag(Severity.TROUBLE, f"{dead} change(s) given up (dead).")
    if row.depth.get(OutboxState.RETRYING, 0):
        flag(Severity.WARNING, f"{row.depth[OutboxState.RETRYING]} change(s) being retried.")
    if row.oldest_waiting is not None and now - row.oldest_waiting > STUCK_AFTER:
        minutes = int((now - row.oldest_waiting).total_seconds() // 60)
        flag(Severity.TROUBLE, f"Oldest undelivered change waits for {minutes} min.")
    rate = row.day.success_rate
    if rate is not None and rate < BAD_SUCCESS_RATE:
        flag(Severity.TROUBLE, f"Only {rate:.0%} of deliveries succeeded in 24 h.")
    elif rate is not None and rate < GOOD_SUCCESS_RATE:
        flag(Severity.WARNING, f"{rate:.1%} of deliveries succeeded in 24 h.")
    if row.day.p95 is not None and row.day.p95 > SLOW_P95_SECONDS:
        flag(Severity.WARNING, f"Slow: 95% of changes arrive within {row.day.p95:g} s.")
    if row.last_pull is not None and row.last_pull.state == PullState.FAILED:
        flag(Severity.TROUBLE, f"Last token pull failed: {row.last_pull.error[:120]}")
    if (
        row.last_good_pull is not None
        and partner.state == PartnerState.REGISTERED
        and now - row.last_good_pull.started_at > PULL_LATE_AFTER
        and row.last_pull is not None
    ):
        flag(Severity.WARNING, "No successful token pull for over an hour.")


# --- charts ---------------------------------------------------------------------------------------

_WIDTH = 240
_HEIGHT = 48
_GREEN = "#3a9d5d"
_RED = "#c9302c"
_LINE = "#2b5797"


def _finite(seconds: float | None) -> float | None:
    """Latencies beyond the last bucket are drawn at its bound (they are off the chart anyway)."""
    if seconds is None:
        return None
    return min(seconds, BUCKETS[-1])


def bar_chart(buckets: Iterable[Bucket], *, label: str) -> SafeString:
    """Deliveries per bucket as bars (failures in red on top), p95 latency as a line."""
    items = list(buckets)
    if not items:
        return mark_safe("")
    top = max((b.attempts for b in items), default=0) or 1
    latencies = [_finite(b.p95) for b in items]
    slowest = max((value for value in latencies if value is not None), default=0.0) or 1.0
    step = _WIDTH / len(items)
    bars = []
    points = []
    for index, bucket in enumerate(items):
        x = index * step
        good = _HEIGHT * bucket.delivered / top
        bad = _HEIGHT * bucket.failed / top
        title = (
            f"{bucket.start:%Y-%m-%d %H:%M} UTC: {bucket.delivered} delivered, "
            f"{bucket.failed} failed"
            + (f", p95 {bucket.p95:g} s" if bucket.p95 not in (None, float("inf")) else "")
        )
        width = f"{max(step - 1, 1):.1f}"
        bars.append(
            format_html(
                '<g><title>{}</title><rect x="{}" y="{}" width="{}" height="{}" fill="{}"/>'
                '<rect x="{}" y="{}" width="{}" height="{}" fill="{}"/></g>',
                title,
                f"{x:.1f}",
                f"{_HEIGHT - good:.1f}",
                width,
                f"{good:.1f}",
                _GREEN,
                f"{x:.1f}",
                f"{_HEIGHT - good - bad:.1f}",
                width,
                f"{bad:.1f}",
                _RED,
            )
        )
        p95 = latencies[index]
        if p95 is not None:
            points.append(f"{x + step / 2:.1f},{_HEIGHT - _HEIGHT * p95 / slowest:.1f}")
    line = (
        format_html(
            '<polyline points="{}" fill="none" stroke="{}" stroke-width="1.5"/>',
            " ".join(points),
            _LINE,
        )
        if len(points) > 1
        else ""
    )
    return format_html(
        '<svg class="health-chart" role="img" aria-label="{}" width="{}" height="{}" '
        'viewBox="0 0 {} {}" xmlns="http://www.w3.org/2000/svg">'
        '<rect width="100%" height="100%" fill="#f6f6f6"/>{}{}</svg>',
        label,
        _WIDTH,
        _HEIGHT,
        _WIDTH,
        _HEIGHT,
        format_html_join("", "{}", ((bar,) for bar in bars)),
        line,
    )
