"""Delivering a partner's outbox: claim due rows in order, coalesce, send, record the outcome.

Order. Only the worker holding a partner's channel lease (``PushChannel``) claims and sends that
partner's rows, so the changes of every object reach the partner in the order they were made. Rows
are claimed oldest first with ``SELECT ... FOR UPDATE SKIP LOCKED`` on PostgreSQL (on SQLite,
whose writers are serialized, a conditional UPDATE does the same); a claimed row is IN_FLIGHT,
held by one worker until its lease ends, and every later write of the worker is fenced on still
holding it. A claim also takes back rows of a worker whose lease ran out (it died).

Coalescing. The rows of one object in a batch become one request: the newest row is sent, the
older ones are SUPERSEDED by it. A location PUT also covers queued changes of its EVSEs and
connectors, an EVSE PUT those of its connectors. The request is built from the object as it is
when sent, so the partner always gets the latest state.

Failures. A transient failure (timeout, connection, HTTP 5xx, OCPI 3xxx) is a partner problem:
the row is RETRYING, the rest of the batch is put back untouched, and nothing goes to the partner
before its backoff ends (base delay doubling per failure, capped; settings
OCPI_PUSH_RETRY_BASE_SECONDS / _MAX_SECONDS). The sweeper gives up rows older than the horizon
(OCPI_PUSH_RETRY_HORIZON_HOURS). A permanent failure (HTTP 4xx, OCPI 2xxx, no OCPI answer) is a
problem of that request: the row is DEAD with the partner's answer, and the batch goes on. Two
answers are no failure: an EVSE status PATCH refused because the partner lacks the EVSE (HTTP 404
or OCPI 2003) is followed by a PUT of the whole EVSE, and a DELETE of something the partner does
not have (HTTP 404) is done.

Writes. Sends are committed in groups together with their outcomes and exchange log rows (see
``_deliver_batch``); claims and outcomes do not wait for the disk flush (``relaxed_commit``).
Successful calls are logged only as a sample (``_log_this_success``), failed ones always.

CDRs, exactly once as far as the partner can tell. A CDR has at most one outbox row per partner
(a database constraint), and a DELIVERED row is never sent again. Before the POST the worker
commits the attempt on the row (``outcome_unknown``, attempt count). If the worker dies between
the POST and recording the answer, the sweeper hands the row to another worker once the lease has
run out, and that worker POSTs the very same CDR again: same ``id``, same body. A receiver keys
CDRs by country code, party id and id (CDRs are never replaced or updated in OCPI), so the repeat
is either acknowledged as the CDR it already holds or refused as a duplicate; it can never become
a second CDR. A refusal after such an unknown outcome marks the row DEAD with an explanation
(the partner most likely has the CDR) instead of silently counting it as delivered. When the
partner did give us the CDR's URL (the Location header) and staff replay the row, the worker
first GETs that URL and POSTs only if the partner does not have the CDR.
"""

from __future__ import annotations

import logging
import os
import random
import socket
import time
import uuid
from collections import defaultdict
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connection, models, transaction
from django.db.models import Case, F, Q, QuerySet, Value, When
from django.utils import timezone

from roaming.choices import OcpiVersion
from roaming.client import OcpiClientError, OcpiResponse, PermanentError, TransientError, call
from roaming.models import (
    OUTBOX_WAITING_STATES,
    DeliveredObject,
    ExchangeLog,
    OutboxKind,
    OutboxOperation,
    OutboxRow,
    OutboxState,
    Partner,
    PartnerState,
    PushChannel,
)
from roaming.push.keys import ancestors
from roaming.push.payloads import (
    BatchObjects,
    NothingToSendError,
    PushRequest,
    Send,
    build_request,
)
from roaming.push.stats import Tally, stats_record
from roaming.transport.ids import REQUEST_ID_HEADER, new_id
from roaming.transport.status import OcpiStatus

logger = logging.getLogger(__name__)

# The delivery task's time limits. A lease (the partner's and its claimed rows') outlives the hard
# limit, so a worker that still runs always holds what it took and needs no renewal: Celery kills
# it first. Run outside Celery, the send budget plus one call's timeouts stay well within it.
TASK_SOFT_TIME_LIMIT = 120
TASK_TIME_LIMIT = 150
LEASE = timedelta(seconds=TASK_TIME_LIMIT + 30)
# No new request is started later than this into a task, leaving time for the slowest call.
SEND_BUDGET_SECONDS = 60.0
# A claim also takes the later due rows of the objects it claimed, up to this many per row.
LATER_ROWS_PER_ROW = 4
# Sends are committed with their outcomes in groups of at most this many rows and seconds.
FLUSH_ROWS = 100
FLUSH_SECONDS = 1.0

_ROW_FIELDS = [
    "state",
    "attempts",
    "claimed_by",
    "lease_until",
    "next_attempt_at",
    "last_attempt_at",
    "finished_at",
    "http_status",
    "ocpi_status",
    "last_error",
    "partner_answer",
    "request_id",
    "remote_url",
    "superseded_by_id",
    "outcome_unknown",
]


def relaxed_commit() -> None:
    """Let this transaction commit without waiting for the WAL to reach the disk (PostgreSQL).

    For claims and outcomes only: if the database crashes and loses them, rows go back to being
    sent again, which a PUT or PATCH of the current state allows, and a CDR keeps its attempt
    mark, which is committed on its own, durably, before the POST. It saves a disk flush per
    batch; the changes themselves are committed by their callers as usual.
    """
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL synchronous_commit TO OFF")


def worker_id() -> str:
    """A name unique to one run of a delivery task."""
    return f"{socket.gethostname()[:24]}:{os.getpid()}:{uuid.uuid4().hex[:16]}"[:64]


def retry_delay(failures: int) -> timedelta:
    base: float = settings.OCPI_PUSH_RETRY_BASE_SECONDS
    cap: float = settings.OCPI_PUSH_RETRY_MAX_SECONDS
    return timedelta(seconds=min(cap, base * 2 ** min(max(failures, 1) - 1, 30)))


@dataclass
class DeliveryReport:
    delivered: int = 0
    superseded: int = 0
    skipped: int = 0
    dead: int = 0
    retrying: int = 0
    busy: bool = False
    more: bool = False

    def as_dict(self) -> dict[str, int | bool]:
        return asdict(self)


# --- the channel lease -------------------------------------------------------------------------------


def channel_acquire(*, partner_id: int, worker: str, now: datetime | None = None) -> bool:
    """Take the partner's delivery lease unless a live worker holds it."""
    now = now or timezone.now()
    free = Q(leased_by="") | Q(lease_until__lt=now) | Q(lease_until__isnull=True)
    lease = {"leased_by": worker, "lease_until": now + LEASE}
    if PushChannel.objects.filter(partner_id=partner_id).filter(free).update(**lease):
        return True
    if PushChannel.objects.filter(partner_id=partner_id).exists():
        return False
    PushChannel.objects.bulk_create([PushChannel(partner_id=partner_id)], ignore_conflicts=True)
    return PushChannel.objects.filter(partner_id=partner_id).filter(free).update(**lease) == 1


def channel_release(*, partner_id: int, worker: str) -> None:
    """Let go of the lease; from now on a new change must queue a task again (``nudge_pending``
    off), and the caller looks for rows that came in meanwhile before it stops."""
    PushChannel.objects.filter(partner_id=partner_id, leased_by=worker).update(
        leased_by="", lease_until=None, nudge_pending=False
    )


# --- claiming -------------------------------------------------------------------------------------


def _due_condition(now: datetime) -> Q:
    """Waiting rows whose time has come, and in-flight rows whose worker's lease ran out."""
    return Q(state__in=OUTBOX_WAITING_STATES, next_attempt_at__lte=now) | Q(
        state=OutboxState.IN_FLIGHT, lease_until__lt=now
    )


def due_rows(partner_id: int, now: datetime | None = None) -> QuerySet[OutboxRow]:
    return OutboxRow.objects.filter(partner_id=partner_id).filter(
        _due_condition(now or timezone.now())
    )


def claim_rows(
    *, partner_id: int, worker: str, limit: int, now: datetime | None = None
) -> list[OutboxRow]:
    """Claim up to ``limit`` due rows of the partner, oldest first, for ``worker``, and the
    later due rows of the same objects (up to LATER_ROWS_PER_ROW times ``limit``).

    The later rows come along because a send carries the object as it is when sent, which
    covers them: a backlog (a burst of status changes, a partner back from an outage) then costs
    one request per object rather than one per change. Two claimers never get the same row:
    PostgreSQL skips rows another claim has locked, and the UPDATE re-checks that each row is
    still due (on SQLite the whole claim holds the write lock, transactions being IMMEDIATE).
    """
    now = now or timezone.now()
    with transaction.atomic():
        relaxed_commit()
        found = _due_for_claim(due_rows(partner_id, now).order_by("id"), limit)
        if not found:
            return []
        if len(found) == limit:
            keys = {key for _, _, _, key in found}
            later = due_rows(partner_id, now).filter(object_key__in=keys, id__gt=found[-1][0])
            found += _due_for_claim(later.order_by("id"), limit * LATER_ROWS_PER_ROW)
        ids = [pk for pk, _, _, _ in found]
        forget_sessions_maybe_sent(
            partner_id,
            [
                key
                for _, state, kind, key in found
                if state == OutboxState.IN_FLIGHT and kind == OutboxKind.SESSION
            ],
        )
        OutboxRow.objects.filter(pk__in=ids).filter(_due_condition(now)).update(
            state=OutboxState.IN_FLIGHT, claimed_by=worker, lease_until=now + LEASE
        )
    return list(
        OutboxRow.objects.filter(
            pk__in=ids, claimed_by=worker, state=OutboxState.IN_FLIGHT
        ).order_by("id")
    )


def _due_for_claim(rows: QuerySet[OutboxRow], limit: int) -> list[tuple[int, str, str, str]]:
    if connection.features.has_select_for_update_skip_locked:
        rows = rows.select_for_update(skip_locked=True)
    return list(rows.values_list("id", "state", "kind", "object_key")[:limit])


def forget_sessions_maybe_sent(partner_id: int, keys: list[str]) -> None:
    """Rows of these sessions come back from a worker that died (or lost its database) after
    sending: the partner may hold a PATCH's charging periods we never recorded, and OCPI appends
    PATCHed periods, so the next send must be a PUT of the whole session."""
    if keys:
        DeliveredObject.objects.filter(partner_id=partner_id, object_key__in=keys).delete()


# --- coalescing ---------------------------------------------------------------------------------


def coalesce(rows: list[OutboxRow]) -> tuple[list[Send], list[tuple[OutboxRow, OutboxRow]]]:
    """One send per object (its newest row), and the (row, superseding row) pairs of the rest."""
    groups: dict[str, list[OutboxRow]] = {}
    for row in sorted(rows, key=lambda r: r.pk):
        groups.setdefault(row.object_key, []).append(row)
    sends: dict[str, Send] = {}
    for key, group in groups.items():
        newest = group[-1]
        operation = OutboxOperation(newest.operation)
        fields: set[str] = set()
        if newest.kind == OutboxKind.EVSE:
            # A PUT anywhere in the group says more than any PATCH: send the whole EVSE.
            if any(row.operation == OutboxOperation.PUT for row in group):
                operation = OutboxOperation.PUT
            else:
                operation = OutboxOperation.PATCH
                fields = {name for row in group for name in row.fields}
        sends[key] = Send(row=newest, operation=operation, fields=fields, superseded=group[:-1])
    superseded: list[tuple[OutboxRow, OutboxRow]] = []
    for key, send in list(sends.items()):
        cover = next(
            (
                sends[parent]
                for parent in ancestors(key)
                if parent in sends and sends[parent].operation == OutboxOperation.PUT
            ),
            None,
        )
        if cover is not None:
            # The parent's PUT carries this object as it is now.
            cover.superseded.extend([*send.superseded, send.row])
            del sends[key]
    for send in sends.values():
        superseded.extend((row, send.row) for row in send.superseded)
    ordered = sorted(sends.values(), key=lambda send: send.row.pk)
    return ordered, superseded


# --- delivering ------------------------------------------------------------------------------------


def deliver_partner(
    *, partner_id: int, worker: str | None = None, budget: float = SEND_BUDGET_SECONDS
) -> DeliveryReport:
    """Deliver the partner's due rows until none are left, the partner fails, or time is up.

    Returns what happened; ``busy`` when another worker holds the partner's lease (it delivers
    these rows too), ``more`` when rows are left for the next task. Run it outside any
    transaction (as the Celery task does): a CDR's attempt must be committed before its POST.
    """
    worker = worker or worker_id()
    report = DeliveryReport()
    deadline = time.monotonic() + budget
    while True:
        if not channel_acquire(partner_id=partner_id, worker=worker):
            # The holder looks for new rows after letting go of the lease, so it gets ours too.
            report.busy = True
            return report
        try:
            stop = _drain(partner_id, worker, deadline, report)
        finally:
            channel_release(partner_id=partner_id, worker=worker)
        if stop == "budget":
            report.more = True
            return report
        if stop != "empty" or not _deliverable(partner_id):
            return report
        # A row committed while we held the lease, after our last claim: its nudge found a task
        # queued or the lease taken, so it is ours to deliver.


def _deliverable(partner_id: int) -> bool:
    now = timezone.now()
    channel = PushChannel.objects.filter(partner_id=partner_id).first()
    if channel is not None and channel.retry_at is not None and channel.retry_at > now:
        return False
    return due_rows(partner_id, now).exists()


def _drain(partner_id: int, worker: str, deadline: float, report: DeliveryReport) -> str:
    partner = Partner.objects.prefetch_related("endpoints", "parties").get(pk=partner_id)
    if partner.state != PartnerState.REGISTERED or not partner.version:
        return "not registered"
    channel = PushChannel.objects.get(partner_id=partner_id)
    if channel.retry_at is not None and channel.retry_at > timezone.now():
        return "backoff"
    batch_size: int = settings.OCPI_PUSH_BATCH_SIZE
    while time.monotonic() < deadline:
        rows = claim_rows(partner_id=partner_id, worker=worker, limit=batch_size)
        if not rows:
            return "empty"
        # No lease renewal: a lease outlives the task that took it (see LEASE).
        if _deliver_batch(partner, rows, worker, deadline, report):
            return "partner failed"
    return "budget"


class _Outcomes:
    """Outcomes of a batch, written in chunks, each fenced on the rows still being ours."""

    def __init__(self, partner: Partner, worker: str) -> None:
        self.partner = partner
        self.worker = worker
        self.rows: dict[int, OutboxRow] = {}
        self.delivered_objects: list[DeliveredObject] = []
        self.tally = Tally(latencies=[])

    def add(self, row: OutboxRow) -> None:
        self.rows[row.pk] = row

    def flush(self) -> None:
        """Write the outcomes: one UPDATE per kind of outcome, each fenced by its WHERE on the
        rows being still in flight and claimed by this worker (a row another worker took back
        after our lease ran out is left to it)."""
        if not self.rows:
            return
        now = timezone.now()
        rows = list(self.rows.values())
        with transaction.atomic():
            relaxed_commit()
            written = self._write_delivered([r for r in rows if r.state == OutboxState.DELIVERED])
            written += self._write_superseded(
                [r for r in rows if r.state == OutboxState.SUPERSEDED]
            )
            for row in rows:
                if row.state not in (OutboxState.DELIVERED, OutboxState.SUPERSEDED):
                    written += self._held([row.pk]).update(
                        **{name: getattr(row, name) for name in _ROW_FIELDS}
                    )
            if written < len(rows):
                logger.warning(
                    "%s outcome(s) of partner %s not written: their rows were taken back",
                    len(rows) - written,
                    self.partner.pk,
                )
            if self.delivered_objects:
                DeliveredObject.objects.bulk_create(
                    self.delivered_objects,
                    update_conflicts=True,
                    unique_fields=["partner", "object_key"],
                    update_fields=["version", "delivered_at", "snapshot"],
                )
            stats_record(partner_id=self.partner.pk, at=now, tally=self.tally)
            if self.tally.delivered:
                PushChannel.objects.filter(partner_id=self.partner.pk).update(
                    last_delivered_at=now, failures=0, retry_at=None
                )
        self.rows = {}
        self.delivered_objects = []
        self.tally = Tally(latencies=[])

    def _held(self, pks: list[int]) -> QuerySet[OutboxRow]:
        return OutboxRow.objects.filter(
            pk__in=pks, claimed_by=self.worker, state=OutboxState.IN_FLIGHT
        )

    def _write_delivered(self, rows: list[OutboxRow]) -> int:
        groups: dict[tuple[Any, ...], list[OutboxRow]] = defaultdict(list)
        for row in rows:
            cdr = row.kind == OutboxKind.CDR
            groups[(row.http_status, row.ocpi_status, row.last_error, cdr)].append(row)
        written = 0
        for (http_status, ocpi_status, note, cdr), group in groups.items():
            # One time for the group (its last answer, at most FLUSH_SECONDS after the first):
            # a CASE per row costs more than the precision is worth; exact latencies go to the
            # hourly figures.
            answered = max(
                (row.finished_at for row in group if row.finished_at is not None),
                default=timezone.now(),
            )
            # Nor is the request id kept for a delivery, except a CDR's (failures keep theirs):
            # the exchange log finds it by the object's URL.
            per_row = {
                "finished_at": Value(answered),
                "last_attempt_at": Value(answered),
                "request_id": Value(""),
            }
            if cdr:
                per_row["request_id"] = _per_row(group, "request_id", models.CharField())
                per_row["remote_url"] = _per_row(group, "remote_url", models.CharField())
            written += self._held([row.pk for row in group]).update(
                state=OutboxState.DELIVERED,
                claimed_by="",
                lease_until=None,
                outcome_unknown=False,
                last_error=note,
                partner_answer="",
                http_status=http_status,
                ocpi_status=ocpi_status,
                # CDR attempts were counted (committed) before sending.
                attempts=F("attempts") + (0 if cdr else 1),
                **per_row,
            )
        return written

    def _write_superseded(self, rows: list[OutboxRow]) -> int:
        if not rows:
            return 0
        return self._held([row.pk for row in rows]).update(
            state=OutboxState.SUPERSEDED,
            claimed_by="",
            lease_until=None,
            finished_at=_per_row(rows, "finished_at", models.DateTimeField()),
            superseded_by_id=_per_row(rows, "superseded_by_id", models.BigIntegerField()),
        )


def _per_row(rows: list[OutboxRow], attribute: str, output_field: models.Field[Any, Any]) -> Any:
    """Each row's own value in one UPDATE (a plain value when they all share it)."""
    values = [getattr(row, attribute) for row in rows]
    if len(set(values)) == 1:
        return Value(values[0], output_field=output_field)
    return Case(
        *[When(pk=row.pk, then=Value(value)) for row, value in zip(rows, values, strict=True)],
        output_field=output_field,
    )


def _deliver_batch(
    partner: Partner,
    rows: list[OutboxRow],
    worker: str,
    deadline: float,
    report: DeliveryReport,
) -> bool:
    """Send one claimed batch; True when the partner failed (the rest of the batch is put back).

    Sends are grouped in transactions of up to FLUSH_ROWS sends or FLUSH_SECONDS, committed with
    their outcomes, so the exchange log and the outbox cost one commit per group rather than one
    per request; a worker dying mid-group loses only that group's records (its rows are sent
    again, which a PUT or PATCH of the current state allows). A CDR is sent on its own, outside
    any group, because its attempt must be committed before the POST.
    """
    version = OcpiVersion(partner.version)
    sends, superseded = coalesce(rows)
    outcomes = _Outcomes(partner, worker)
    now = timezone.now()
    for row, newer in superseded:
        _finish(row, OutboxState.SUPERSEDED, now)
        row.superseded_by = newer
        outcomes.add(row)
        report.superseded += 1
    objects = BatchObjects(partner, sends)
    waiting = list(sends)
    failed = False
    while waiting and not failed and time.monotonic() < deadline:
        if waiting[0].row.kind == OutboxKind.CDR:
            outcomes.flush()
            failed = _deliver_one(partner, version, waiting.pop(0), objects, outcomes, report)
            outcomes.flush()
            continue
        started = time.monotonic()
        with transaction.atomic():
            relaxed_commit()
            while waiting and waiting[0].row.kind != OutboxKind.CDR and not failed:
                if time.monotonic() >= deadline:
                    break
                if len(outcomes.rows) >= FLUSH_ROWS or time.monotonic() - started >= FLUSH_SECONDS:
                    break
                failed = _deliver_one(partner, version, waiting.pop(0), objects, outcomes, report)
            outcomes.flush()
    if waiting:
        # The partner failed or time is up: the rest waits, untried.
        retry_at = _retry_at(partner) if failed else None
        for rest in waiting:
            _put_back(rest, outcomes, next_attempt_at=retry_at)
        outcomes.flush()
    return failed


def _retry_at(partner: Partner) -> datetime | None:
    return (
        PushChannel.objects.filter(partner_id=partner.pk).values_list("retry_at", flat=True).first()
    )


def _deliver_one(
    partner: Partner,
    version: OcpiVersion,
    send: Send,
    objects: BatchObjects,
    outcomes: _Outcomes,
    report: DeliveryReport,
) -> bool:
    """Send one object's current state and note the outcome; True when the partner failed."""
    row = send.row
    try:
        request = build_request(partner, version, send, objects)
    except NothingToSendError as reason:
        _skipped(row, str(reason), outcomes, report)
        return False
    except Exception as error:
        # A defect with one object must not hold up everything queued behind it.
        logger.exception("Could not build the request of outbox row %s", row.pk)
        _finish(row, OutboxState.DEAD, timezone.now())
        row.last_error = f"Could not build the request: {type(error).__name__}: {error}"
        outcomes.tally.dead += 1
        outcomes.add(row)
        report.dead += 1
        return False
    uncertain = row.outcome_unknown
    if row.kind == OutboxKind.CDR and not _commit_attempt(row, outcomes.worker):
        return False  # taken by another worker meanwhile: it is theirs now
    try:
        if request.check_url and _partner_has(partner, request.check_url, request.headers):
            _delivered(row, send, outcomes, report, note="The partner already has this CDR.")
            return False
        response, request = _send(partner, version, send, objects, request)
    except NothingToSendError as reason:
        _skipped(row, str(reason), outcomes, report)
        return False
    except TransientError as error:
        _failed_transiently(partner, row, error, outcomes, report)
        return True
    except PermanentError as error:
        if request.method == "DELETE" and _unknown_object(error):
            # Deleted before the partner ever had it (or deleted there already): nothing to do.
            row.http_status, row.ocpi_status = error.http_status, error.ocpi_status
            _delivered(row, send, outcomes, report, note="The partner did not have it.")
            return False
        _answered(partner, row, error)
        _finish(row, OutboxState.DEAD, timezone.now())
        if uncertain and row.kind == OutboxKind.CDR:
            row.last_error = (
                "The partner refused this CDR after an earlier attempt whose answer was "
                "lost; it most likely holds the CDR already (same id). Check with the "
                f"partner before retrying. Refusal: {error.message}"
            )
        outcomes.tally.dead += 1
        outcomes.add(row)
        report.dead += 1
        _note_failure(partner, row.last_error)
        return False
    row.http_status = response.http_status
    row.ocpi_status = response.status_code
    if row.kind == OutboxKind.CDR:
        row.remote_url = (response.headers.get("Location") or "")[:2048]
    if request.snapshot is not None:
        outcomes.delivered_objects.append(
            DeliveredObject(
                partner=partner,
                object_key=row.object_key,
                version=version,
                delivered_at=timezone.now(),
                snapshot=request.snapshot,
            )
        )
    _delivered(row, send, outcomes, report)
    return False


def _skipped(row: OutboxRow, reason: str, outcomes: _Outcomes, report: DeliveryReport) -> None:
    _finish(row, OutboxState.SKIPPED, timezone.now())
    row.last_error = reason
    outcomes.add(row)
    report.skipped += 1


def _send(
    partner: Partner,
    version: OcpiVersion,
    send: Send,
    objects: BatchObjects,
    request: PushRequest,
) -> tuple[OcpiResponse, PushRequest]:
    """Make the call; an EVSE status PATCH the partner cannot apply because it lacks the EVSE
    (it connected later, or lost it) is followed by a PUT of the whole EVSE."""
    try:
        return _call(partner, send.row, request, objects.token), request
    except PermanentError as error:
        if not (send.operation == OutboxOperation.PATCH and _unknown_object(error)):
            raise
    send.operation = OutboxOperation.PUT
    request = build_request(partner, version, send, objects)
    return _call(partner, send.row, request, objects.token), request


def _call(partner: Partner, row: OutboxRow, request: PushRequest, token: str) -> OcpiResponse:
    row.request_id = new_id()
    return call(
        request.method,
        request.url,
        partner=partner,
        token=token,
        json=request.body,
        headers={**request.headers, REQUEST_ID_HEADER: row.request_id},
        log_success=_log_this_success(),
    )


def _log_this_success() -> bool:
    """Whether a successful call goes to the exchange log (a sample, OCPI_PUSH_EXCHANGE_LOG_SAMPLE).

    At a thousand deliveries a second, a row per call would be most of the log and a quarter of
    the worker's time; the outbox row keeps each delivery's answer and time, the hourly figures
    its latency. Failed calls are always logged: their answers are the ones staff read.
    """
    sample: float = settings.OCPI_PUSH_EXCHANGE_LOG_SAMPLE
    return sample >= 1 or random.random() < sample


def _unknown_object(error: PermanentError) -> bool:
    return error.http_status == 404 or error.ocpi_status == OcpiStatus.UNKNOWN_LOCATION


def _finish(row: OutboxRow, state: OutboxState, at: datetime) -> None:
    row.state = state
    row.finished_at = at
    row.claimed_by = ""
    row.lease_until = None


def _delivered(
    row: OutboxRow, send: Send, outcomes: _Outcomes, report: DeliveryReport, note: str = ""
) -> None:
    now = timezone.now()
    if row.kind != OutboxKind.CDR:
        row.attempts += 1  # CDR attempts are counted before sending
    row.last_attempt_at = now
    row.outcome_unknown = False
    row.last_error = note
    row.partner_answer = ""
    _finish(row, OutboxState.DELIVERED, now)
    outcomes.add(row)
    outcomes.tally.delivered += 1
    assert outcomes.tally.latencies is not None
    # Each change carried by this request reached the partner now, superseded ones included.
    outcomes.tally.latencies.extend(
        (now - carried.created_at).total_seconds() for carried in [*send.superseded, row]
    )
    report.delivered += 1


def _commit_attempt(row: OutboxRow, worker: str) -> bool:
    """Record, committed before sending, that a CDR attempt starts (see the module docstring)."""
    now = timezone.now()
    updated = OutboxRow.objects.filter(
        pk=row.pk, claimed_by=worker, state=OutboxState.IN_FLIGHT
    ).update(outcome_unknown=True, attempts=F("attempts") + 1, last_attempt_at=now)
    if updated:
        row.outcome_unknown = True
        row.attempts += 1
        row.last_attempt_at = now
    return updated == 1


def _partner_has(partner: Partner, url: str, headers: dict[str, str]) -> bool:
    """Whether the partner answers a GET of the CDR's URL with the CDR (transient errors raise)."""
    try:
        response = call("GET", url, partner=partner, headers=headers)
    except PermanentError:
        return False
    return isinstance(response.data, dict)


def _answered(partner: Partner, row: OutboxRow, error: OcpiClientError) -> None:
    row.http_status = error.http_status
    row.ocpi_status = error.ocpi_status
    row.last_error = error.message
    answer = (
        ExchangeLog.objects.filter(partner=partner, request_id=row.request_id)
        .order_by("-created_at")
        .values_list("response_body", flat=True)
        .first()
    )
    row.partner_answer = answer or ""
    if row.kind != OutboxKind.CDR:
        row.attempts += 1
    row.last_attempt_at = timezone.now()
    row.outcome_unknown = False


def _failed_transiently(
    partner: Partner,
    row: OutboxRow,
    error: TransientError,
    outcomes: _Outcomes,
    report: DeliveryReport,
) -> None:
    _answered(partner, row, error)
    # A timeout may have reached the partner: a CDR's outcome stays unknown.
    row.outcome_unknown = row.kind == OutboxKind.CDR and error.http_status is None
    if row.kind == OutboxKind.SESSION:
        # The partner may have applied a PATCH whose answer we lost, appending its charging
        # periods: forgetting what it holds makes the next attempt a PUT of the whole session.
        DeliveredObject.objects.filter(partner=partner, object_key=row.object_key).delete()
    channel = PushChannel.objects.get(partner_id=partner.pk)
    failures = channel.failures + 1
    now = timezone.now()
    retry_at = now + retry_delay(failures)
    PushChannel.objects.filter(partner_id=partner.pk).update(
        failures=failures, retry_at=retry_at, last_failure_at=now, last_error=error.message[:2000]
    )
    row.state = OutboxState.RETRYING
    row.next_attempt_at = retry_at
    row.claimed_by = ""
    row.lease_until = None
    outcomes.tally.failed += 1
    outcomes.add(row)
    report.retrying += 1


def _put_back(send: Send, outcomes: _Outcomes, *, next_attempt_at: datetime | None) -> None:
    """An unsent row goes back to waiting, no attempt counted (rows it superseded stay so: it
    carries their changes)."""
    row = send.row
    row.state = OutboxState.RETRYING if row.attempts else OutboxState.PENDING
    row.claimed_by = ""
    row.lease_until = None
    if next_attempt_at is not None:
        row.next_attempt_at = next_attempt_at
    outcomes.add(row)


def _note_failure(partner: Partner, message: str) -> None:
    PushChannel.objects.filter(partner_id=partner.pk).update(
        last_failure_at=timezone.now(), last_error=message[:2000]
    )
