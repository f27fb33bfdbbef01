"""The outbox sweeper (Celery beat, every 30 s): nothing queued for a partner is ever forgotten.

* Rows IN_FLIGHT whose worker's lease ran out (the worker died) go back to RETRYING; a CDR among
  them keeps ``outcome_unknown`` so the next attempt knows the partner may already have it, and
  a session among them is PUT whole next (the partner may hold periods of a PATCH we never heard
  back from).
* Channel leases that ran out are cleared.
* Every registered partner with due rows, out of backoff and without a live worker, gets its
  delivery task queued again: a nudge lost with the broker, or a task that died, costs at most
  one sweep interval.
* Rows still waiting after the retry horizon are given up (DEAD), as are rows of partners that
  unregistered.

``outbox_purge`` (nightly) deletes finished rows older than OCPI_PUSH_KEEP_DAYS, except CDR rows,
which prove that a CDR was sent and must never be sent again, and DEAD rows, which wait for staff.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from roaming.models import (
    OUTBOX_WAITING_STATES,
    OutboxKind,
    OutboxRow,
    OutboxState,
    Partner,
    PartnerState,
    PushChannel,
    PushStats,
)
from roaming.push.delivery import due_rows, forget_sessions_maybe_sent

# Hourly figures are kept a little longer than the dashboard's week.
STATS_KEEP = timedelta(days=10)
_PURGE_CHUNK = 5000


@dataclass
class SweepReport:
    reclaimed: int = 0
    expired_leases: int = 0
    given_up: int = 0
    nudged: list[int] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def outbox_sweep(*, now: datetime | None = None) -> SweepReport:
    """One sweep (see the module docstring); returns what it did."""
    from roaming.push.tasks import publish_delivery

    now = now or timezone.now()
    report = SweepReport()
    expired = OutboxRow.objects.filter(state=OutboxState.IN_FLIGHT, lease_until__lt=now)
    sessions: dict[int, list[str]] = {}
    for partner_id, key in expired.filter(kind=OutboxKind.SESSION).values_list(
        "partner_id", "object_key"
    ):
        sessions.setdefault(partner_id, []).append(key)
    for partner_id, keys in sessions.items():
        forget_sessions_maybe_sent(partner_id, keys)
    report.reclaimed = expired.update(
        state=OutboxState.RETRYING, claimed_by="", lease_until=None, next_attempt_at=now
    )
    report.expired_leases = (
        PushChannel.objects.filter(lease_until__lt=now)
        .exclude(leased_by="")
        .update(leased_by="", lease_until=None)
    )
    report.given_up = _give_up(now)
    blocked = set(
        PushChannel.objects.filter(
            Q(retry_at__gt=now) | (Q(lease_until__gte=now) & ~Q(leased_by=""))
        ).values_list("partner_id", flat=True)
    )
    for partner_id in Partner.objects.registered().values_list("pk", flat=True):
        if partner_id in blocked or not due_rows(partner_id, now).exists():
            continue
        PushChannel.objects.get_or_create(partner_id=partner_id)
        PushChannel.objects.filter(partner_id=partner_id).update(nudge_pending=True, nudged_at=now)
        publish_delivery(partner_id)
        report.nudged.append(partner_id)
    return report


def _give_up(now: datetime) -> int:
    horizon = timedelta(hours=settings.OCPI_PUSH_RETRY_HORIZON_HOURS)
    too_old = OutboxRow.objects.filter(
        state__in=OUTBOX_WAITING_STATES, created_at__lt=now - horizon
    ).update(
        state=OutboxState.DEAD,
        finished_at=now,
        last_error=f"Not delivered within {settings.OCPI_PUSH_RETRY_HORIZON_HOURS:g} hours; "
        "given up. Retry it from the outbox once the partner is reachable.",
    )
    gone = OutboxRow.objects.filter(
        state__in=OUTBOX_WAITING_STATES, partner__state=PartnerState.UNREGISTERED
    ).update(
        state=OutboxState.DEAD,
        finished_at=now,
        last_error="The partner unregistered before this was delivered.",
    )
    return too_old + gone


def outbox_purge(*, now: datetime | None = None) -> int:
    """Delete finished rows (not CDRs, not DEAD) and hourly figures past their keeping time.

    Walks the table by primary key in windows, oldest first, and stops at the first window with
    nothing old enough: ids grow with time, and the outbox keeps no index on finishing times
    (each index would cost every row a write).
    """
    now = now or timezone.now()
    cutoff = now - timedelta(days=settings.OCPI_PUSH_KEEP_DAYS)
    ids = OutboxRow.objects.order_by("pk").values_list("pk", flat=True)
    first, last = ids.first(), ids.reverse().first()
    deleted = 0
    start = first
    while start is not None and last is not None and start <= last:
        window = OutboxRow.objects.filter(pk__gte=start, pk__lt=start + _PURGE_CHUNK)
        if window.exists() and not window.filter(created_at__lt=cutoff).exists():
            break
        deleted += (
            window.filter(
                state__in=[OutboxState.DELIVERED, OutboxState.SUPERSEDED, OutboxState.SKIPPED],
                finished_at__lt=cutoff,
            )
            .exclude(kind=OutboxKind.CDR)
            .delete()[0]
        )
        start += _PURGE_CHUNK
    PushStats.objects.filter(hour__lt=now - STATS_KEEP).delete()
    return deleted
