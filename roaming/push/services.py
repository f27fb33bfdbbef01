"""Recording changes for partners: outbox rows written in the caller's transaction.

Every ``push_*`` function must run inside the ``transaction.atomic()`` block that makes the
change, so the change and the rows telling partners about it commit (or roll back) together. The
rows carry no payload: it is built when a row is sent, from the object as it is then. After the
commit each affected partner's delivery task is nudged (``roaming.push.tasks``); a lost nudge is
recovered by the sweeper.

Who hears of what:

* Locations, EVSEs, connectors: every registered partner with a locations receiver endpoint that
  may see the location (``roaming.visibility``: published, or unpublished but listing one of the
  partner's tokens). A change of the location itself also goes to partners that received the
  location before and may no longer see it, so they learn it is unpublished.
* Tariffs: every registered partner with a tariffs receiver endpoint.
* Sessions and CDRs: the registered connections that speak for the driver's eMSP (the eMSP
  itself, or a hub relaying for it) and have a receiver endpoint for the module.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from copy import copy
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache, partial
from typing import Any

from django.db import connection, transaction
from django.db.models import Field, Q, QuerySet
from django.db.transaction import TransactionManagementError
from django.utils import timezone

from billing.models import CDR, Tariff
from locations.models import EVSE, Connector, Location
from locations.selectors import locations_listing
from roaming.choices import InterfaceRole, ModuleID, Role
from roaming.models import (
    DeliveredObject,
    OutboxKind,
    OutboxOperation,
    OutboxRow,
    OutboxState,
    Partner,
    PartnerEndpoint,
    PartnerState,
    PushChannel,
)
from roaming.push.keys import cdr_key, location_key, session_key, tariff_key
from roaming.transport.connections import remembered
from roaming.visibility import Audience, locations_visible
from sessions_app.models import Session

# EVSE fields a status update may PATCH instead of PUTting the whole EVSE.
EVSE_PATCH_FIELDS = frozenset({"status", "status_schedule"})


# --- the agreed interface ------------------------------------------------------------------------


def push_location_changed(
    *,
    location: Location,
    evse: EVSE | None = None,
    connector: Connector | None = None,
    fields: Collection[str] | None = None,
) -> None:
    """Tell partners that a location, or one EVSE or connector of it, changed.

    Pass the smallest object that changed: the partner receives only that one. ``fields`` may
    name what changed; an EVSE whose status (schedule) alone changed is PATCHed, as OCPI
    prescribes for status updates, instead of PUT whole.
    """
    _require_transaction()
    if connector is not None and evse is None:
        evse = connector.evse
    key = location_key(location, evse, connector)
    operation = OutboxOperation.PUT
    if connector is not None:
        kind, object_id = OutboxKind.CONNECTOR, connector.pk
    elif evse is not None:
        kind, object_id = OutboxKind.EVSE, evse.pk
        operation = _evse_operation(fields)
    else:
        kind, object_id = OutboxKind.LOCATION, location.pk
    partners = _location_audience(location, key, whole=evse is None)
    _record(
        partners,
        module=ModuleID.LOCATIONS,
        kind=kind,
        object_id=object_id,
        key=key,
        operation=operation,
        fields=sorted(fields or ()) if operation == OutboxOperation.PATCH else [],
    )


def _evse_operation(fields: Collection[str] | None) -> OutboxOperation:
    """A change of an EVSE's status (schedule) alone is PATCHed, as OCPI prescribes; others PUT."""
    if fields and set(fields) <= EVSE_PATCH_FIELDS:
        return OutboxOperation.PATCH
    return OutboxOperation.PUT


def push_evses_changed(*, evses: Sequence[EVSE], fields: Collection[str]) -> None:
    """``push_location_changed`` for each of these EVSEs (their locations loaded with the
    owner), in one statement per audience, the partners nudged once for all of them: a charger
    gateway applying a batch of status reports."""
    _require_transaction()
    operation = (
        OutboxOperation.PATCH
        if fields and set(fields) <= EVSE_PATCH_FIELDS
        else OutboxOperation.PUT
    )
    by_audience: dict[tuple[int, ...], list[OutboxRow]] = {}
    receivers = receiver_ids(ModuleID.LOCATIONS)
    for evse in evses:
        key = location_key(evse.location, evse)
        audience = _location_audience(evse.location, key, whole=False, candidates=receivers)
        partners = tuple(audience)
        if partners:
            by_audience.setdefault(partners, []).append(
                _row(
                    partners[0],
                    module=ModuleID.LOCATIONS,
                    kind=OutboxKind.EVSE,
                    object_id=evse.pk,
                    key=key,
                    operation=operation,
                    fields=sorted(fields) if operation == OutboxOperation.PATCH else [],
                )
            )
    for partners, rows in by_audience.items():
        _insert_for_partners(rows, partners, ignore_conflicts=False)
    nudged = sorted({partner for partners in by_audience for partner in partners})
    if nudged:
        transaction.on_commit(partial(_nudge, nudged))


def push_locations_opened(
    *, owner_id: int, tokens: Iterable[Mapping[str, Any]], sent: Collection[int] = ()
) -> list[int]:
    """Send an eMSP the unpublished locations that its new or changed tokens let it see.

    A location whose publish_allowed_to lists one of ``tokens`` (mappings of uid, type,
    visual_number, issuer, group_id) goes whole to the eMSP's connections that may see it now,
    as a PUT; other partners are not told. Locations in ``sent`` (already sent by the caller,
    e.g. for an earlier page of a pull) are left out. Returns the ids of the locations sent.
    Every way a token reaches us (a PUT or PATCH by the eMSP, a pull) calls this.
    """
    _require_transaction()
    opened = sorted(locations_listing(tokens) - set(sent))
    connections = _emsp_connections(ModuleID.LOCATIONS, owner_id) if opened else []
    for location in Location.objects.filter(pk__in=opened) if connections else ():
        key = location_key(location)
        audience = set(_location_audience(location, key, whole=False))
        _record(
            [partner_id for partner_id in connections if partner_id in audience],
            module=ModuleID.LOCATIONS,
            kind=OutboxKind.LOCATION,
            object_id=location.pk,
            key=key,
            operation=OutboxOperation.PUT,
        )
    return opened


def push_tariff_changed(*, tariff: Tariff) -> None:
    """Tell partners a tariff was created or changed (or, if it is deleted, that it is gone)."""
    _require_transaction()
    operation = OutboxOperation.DELETE if tariff.is_deleted else OutboxOperation.PUT
    _record_tariff(tariff, operation)


def push_tariff_deleted(*, tariff: Tariff) -> None:
    """Tell partners a tariff is gone (it is kept here, marked deleted)."""
    _require_transaction()
    _record_tariff(tariff, OutboxOperation.DELETE)


def push_session_changed(*, session: Session) -> None:
    """Tell the driver's eMSP about a session: PUT the first time, PATCH afterwards.

    Which of the two is decided when the row is sent, from what the partner acknowledged so far;
    the operation stored here is only what is expected.
    """
    _require_transaction()
    key = session_key(session)
    partners = _emsp_connections(ModuleID.SESSIONS, session.emsp_id)
    delivered = set(
        DeliveredObject.objects.filter(partner_id__in=partners, object_key=key).values_list(
            "partner_id", flat=True
        )
    )
    by_operation: dict[OutboxOperation, list[int]] = {}
    for partner_id in partners:
        operation = OutboxOperation.PATCH if partner_id in delivered else OutboxOperation.PUT
        by_operation.setdefault(operation, []).append(partner_id)
    for operation, receivers in by_operation.items():
        _record(
            receivers,
            module=ModuleID.SESSIONS,
            kind=OutboxKind.SESSION,
            object_id=session.pk,
            key=key,
            operation=operation,
        )


def push_cdr_created(*, cdr: CDR) -> None:
    """Queue the one POST of a new CDR (or credit CDR) to the driver's eMSP.

    Calling it again for the same CDR adds nothing: a partner has at most one row per CDR.
    """
    _require_transaction()
    partners = _emsp_connections(ModuleID.CDRS, cdr.emsp_id)
    _record(
        partners,
        module=ModuleID.CDRS,
        kind=OutboxKind.CDR,
        object_id=cdr.pk,
        key=cdr_key(cdr),
        operation=OutboxOperation.POST,
        ignore_existing=True,
    )


# --- staff actions -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ResendCounts:
    locations: int
    tariffs: int


@transaction.atomic
def partner_resend_everything(*, partner: Partner) -> ResendCounts:
    """Queue a full PUT of every location the partner may see and of every tariff in force.

    Only for a registered partner with the receiver endpoints; older queued changes of the same
    objects are superseded by these when delivered.
    """
    partner = _with_relations(Partner.objects.filter(pk=partner.pk)).get()
    if partner.state != PartnerState.REGISTERED:
        return ResendCounts(locations=0, tariffs=0)
    locations = 0
    if _is_receiver(partner, ModuleID.LOCATIONS):
        visible = locations_visible(Audience.of(partner, None)).select_related("owner")
        rows = (
            _row(
                partner.pk,
                module=ModuleID.LOCATIONS,
                kind=OutboxKind.LOCATION,
                object_id=location.pk,
                key=location_key(location),
                operation=OutboxOperation.PUT,
            )
            for location in visible.order_by("pk").iterator(chunk_size=2000)
        )
        locations = _bulk_insert(rows)
    tariffs = 0
    if _is_receiver(partner, ModuleID.TARIFFS):
        active = Tariff.objects.active().select_related("owner").order_by("pk")
        rows = (
            _row(
                partner.pk,
                module=ModuleID.TARIFFS,
                kind=OutboxKind.TARIFF,
                object_id=tariff.pk,
                key=tariff_key(tariff),
                operation=OutboxOperation.PUT,
            )
            for tariff in active.iterator(chunk_size=2000)
        )
        tariffs = _bulk_insert(rows)
    if locations or tariffs:
        transaction.on_commit(partial(_nudge, [partner.pk]))
    return ResendCounts(locations=locations, tariffs=tariffs)


@transaction.atomic
def outbox_retry(*, rows: QuerySet[OutboxRow]) -> int:
    """Send dead or retrying rows again now (the partner's backoff is lifted too)."""
    now = timezone.now()
    chosen = rows.filter(state__in=[OutboxState.DEAD, OutboxState.RETRYING])
    partner_ids = set(chosen.values_list("partner_id", flat=True))
    count = chosen.update(
        state=OutboxState.PENDING,
        next_attempt_at=now,
        finished_at=None,
        claimed_by="",
        lease_until=None,
    )
    PushChannel.objects.filter(partner_id__in=partner_ids).update(retry_at=None)
    if count:
        transaction.on_commit(partial(_nudge, partner_ids))
    return count


@dataclass(frozen=True)
class ReplayResult:
    queued: int
    refused: list[str]


@transaction.atomic
def outbox_replay(*, rows: QuerySet[OutboxRow]) -> ReplayResult:
    """Send the current state of these rows' objects once more, as new rows.

    A CDR is never simply POSTed again: a delivered CDR whose partner gave us its URL is queued
    for a check (GET that URL; POST only if the partner does not have it), one without that URL
    is refused, and a dead one is retried as it is.
    """
    now = timezone.now()
    queued = 0
    refused: list[str] = []
    partner_ids: set[int] = set()
    fresh: list[OutboxRow] = []
    for row in rows.order_by("id"):
        if row.kind == OutboxKind.CDR:
            if row.state in (OutboxState.DEAD, OutboxState.RETRYING) or (
                row.state == OutboxState.DELIVERED and row.remote_url
            ):
                _requeue(row, now)
                queued += 1
                partner_ids.add(row.partner_id)
            elif row.state == OutboxState.DELIVERED:
                refused.append(
                    f"#{row.pk} {row.object_key}: delivered, and the partner gave no URL to check "
                    "it by; POSTing it again could make a second CDR."
                )
            continue
        if row.state in (OutboxState.PENDING, OutboxState.IN_FLIGHT):
            continue  # about to be sent anyway
        fresh.append(
            _row(
                row.partner_id,
                module=ModuleID(row.module),
                kind=OutboxKind(row.kind),
                object_id=row.object_id,
                key=row.object_key,
                operation=OutboxOperation(row.operation),
                fields=row.fields,
                now=now,
            )
        )
        partner_ids.add(row.partner_id)
    queued += _bulk_insert(iter(fresh))
    if partner_ids:
        transaction.on_commit(partial(_nudge, partner_ids))
    return ReplayResult(queued=queued, refused=refused)


def _requeue(row: OutboxRow, now: datetime) -> None:
    OutboxRow.objects.filter(pk=row.pk).update(
        state=OutboxState.PENDING,
        next_attempt_at=now,
        finished_at=None,
        claimed_by="",
        lease_until=None,
    )


# --- who hears of what ----------------------------------------------------------------------------


def _with_relations(queryset: QuerySet[Partner]) -> QuerySet[Partner]:
    return queryset.prefetch_related("endpoints", "parties")


def _speaks_for_non_cpo(partner: Partner) -> bool:
    return any(set(party.roles) - {Role.CPO.value} for party in partner.parties.all())


def _is_receiver(partner: Partner, module: ModuleID) -> bool:
    """Whether the partner takes pushes of this module.

    OCPI 2.1.1 endpoints have no role: there a module endpoint of a partner speaking for an eMSP
    (or any non-CPO role) is its receiver interface.
    """
    for endpoint in partner.endpoints.all():
        if endpoint.module != module:
            continue
        if endpoint.role == InterfaceRole.RECEIVER:
            return True
        if endpoint.role == "" and _speaks_for_non_cpo(partner):
            return True
    return False


def receiver_ids(module: ModuleID, *, emsp_pk: int | None = None) -> list[int]:
    """Registered partners that take pushes of this module (those speaking for the eMSP
    `emsp_pk`, if given), by primary key.

    Every change asks, so the answer is remembered while no connection, party or endpoint
    changes (roaming.transport.connections).
    """
    found = remembered(("receivers", module, emsp_pk), lambda: _read_receiver_ids(module, emsp_pk))
    return list(found)  # a copy: the remembered list is shared


def _read_receiver_ids(module: ModuleID, emsp_pk: int | None) -> list[int]:
    # One query, two for OCPI 2.1.1 connections.
    extra = Q(partner__parties=emsp_pk) if emsp_pk is not None else None
    endpoints = PartnerEndpoint.objects.filter(
        partner__state=PartnerState.REGISTERED,
        module=module,
        role__in=[InterfaceRole.RECEIVER, ""],
    )
    if extra is not None:
        endpoints = endpoints.filter(extra)
    found = set(endpoints.values_list("partner_id", "role"))
    ids = {partner_id for partner_id, role in found if role == InterfaceRole.RECEIVER}
    without_role = {partner_id for partner_id, role in found if role == ""} - ids
    if without_role:
        old = Partner.objects.filter(pk__in=without_role).prefetch_related("parties")
        ids.update(partner.pk for partner in old if _speaks_for_non_cpo(partner))
    return sorted(ids)


def _location_audience(
    location: Location, key: str, *, whole: bool, candidates: list[int] | None = None
) -> list[int]:
    """The partners to hear of a change of this location; `candidates`: the locations
    receivers, when the caller has read them already."""
    if candidates is None:
        candidates = receiver_ids(ModuleID.LOCATIONS)
    if location.publish or not candidates:
        return candidates
    partners = Partner.objects.filter(pk__in=candidates).prefetch_related("parties")
    chosen = [
        partner.pk
        for partner in partners
        if locations_visible(Audience.of(partner, None)).filter(pk=location.pk).exists()
    ]
    if whole:
        # Partners holding a copy must learn that it is no longer published to them.
        had_it = DeliveredObject.objects.filter(
            object_key=key, partner_id__in=set(candidates) - set(chosen)
        ).values_list("partner_id", flat=True)
        chosen += list(had_it)
    return sorted(chosen)


def _emsp_connections(module: ModuleID, emsp_pk: int) -> list[int]:
    return receiver_ids(module, emsp_pk=emsp_pk)


# --- recording -------------------------------------------------------------------------------------


def _require_transaction() -> None:
    if not transaction.get_connection().in_atomic_block:
        raise TransactionManagementError(
            "push_* functions record outbox rows in the caller's transaction: call them inside "
            "the transaction.atomic() block that makes the change."
        )


def _record_tariff(tariff: Tariff, operation: OutboxOperation) -> None:
    _record(
        receiver_ids(ModuleID.TARIFFS),
        module=ModuleID.TARIFFS,
        kind=OutboxKind.TARIFF,
        object_id=tariff.pk,
        key=tariff_key(tariff),
        operation=operation,
    )


def _row(
    partner_id: int,
    *,
    module: ModuleID,
    kind: OutboxKind,
    object_id: int,
    key: str,
    operation: OutboxOperation,
    fields: list[str] | None = None,
    now: datetime | None = None,
) -> OutboxRow:
    at = now or timezone.now()
    return OutboxRow(
        partner_id=partner_id,
        module=module,
        kind=kind,
        object_id=object_id,
        object_key=key,
        operation=operation,
        fields=fields or [],
        created_at=at,
        next_attempt_at=at,
    )


def _bulk_insert(rows: Iterable[OutboxRow], *, ignore_conflicts: bool = False) -> int:
    count = 0
    batch: list[OutboxRow] = []
    for row in rows:
        batch.append(row)
        if len(batch) >= 1000:
            OutboxRow.objects.bulk_create(batch, ignore_conflicts=ignore_conflicts)
            count += len(batch)
            batch = []
    if batch:
        OutboxRow.objects.bulk_create(batch, ignore_conflicts=ignore_conflicts)
        count += len(batch)
    return count


def _record(
    partners: Sequence[int],
    *,
    module: ModuleID,
    kind: OutboxKind,
    object_id: int,
    key: str,
    operation: OutboxOperation,
    fields: list[str] | None = None,
    ignore_existing: bool = False,
) -> None:
    if not partners:
        return
    row = _row(
        partners[0],
        module=module,
        kind=kind,
        object_id=object_id,
        key=key,
        operation=operation,
        fields=fields,
    )
    _insert_for_partners([row], partners, ignore_conflicts=ignore_existing)
    transaction.on_commit(partial(_nudge, list(partners)))


def _insert_for_partners(
    rows: Sequence[OutboxRow], partner_ids: Sequence[int], *, ignore_conflicts: bool
) -> None:
    """Insert a copy of each of ``rows`` for each partner.

    On PostgreSQL one ``INSERT ... SELECT`` of the partner ids (an array) with the rows' values
    (a VALUES list), prepared once: every change of the network goes through here, and building
    a model instance and its parameters per partner was most of a change's cost. Elsewhere, the
    ORM's bulk insert.
    """
    if connection.vendor != "postgresql":
        copies = []
        for row in rows:
            for partner_id in partner_ids:
                copied = copy(row)
                copied.partner_id = partner_id
                copies.append(copied)
        _bulk_insert(copies, ignore_conflicts=ignore_conflicts)
        return
    fields = _copied_fields()
    sql = _insert_sql(len(rows), ignore_conflicts)
    values = [
        value
        for position, row in enumerate(rows)
        for value in (
            position,
            *(field.get_db_prep_save(getattr(row, field.attname), connection) for field in fields),
        )
    ]
    with connection.cursor() as cursor:
        cursor.execute(sql, [list(partner_ids), *values])


def _copied_fields() -> list[Field[Any, Any]]:
    return [
        field
        for field in OutboxRow._meta.concrete_fields
        if not field.primary_key and field.attname != "partner_id"
    ]


@lru_cache(maxsize=64)
def _insert_sql(row_count: int, ignore_conflicts: bool) -> str:
    """The statement of ``_insert_for_partners`` for this many rows (PostgreSQL)."""
    fields = _copied_fields()
    quote = connection.ops.quote_name
    columns = ", ".join(quote(field.column) for field in fields)
    names = ", ".join(f"c{index}" for index in range(len(fields)))
    # Typed placeholders: a VALUES column of NULLs would otherwise be text.
    typed = ", ".join(f"%s::{field.db_type(connection)}" for field in fields)
    one_row = f"(%s::int, {typed})"
    conflict = " ON CONFLICT DO NOTHING" if ignore_conflicts else ""
    # Ordered so that each partner's rows get ids in the order of the rows: the order of sending.
    return (
        f"INSERT INTO {quote(OutboxRow._meta.db_table)} ({quote('partner_id')}, {columns}) "
        f"SELECT partner, {names} FROM unnest(%s::bigint[]) AS partner "
        f"CROSS JOIN (VALUES {', '.join([one_row] * row_count)}) AS row_values (position, {names}) "
        f"ORDER BY position, partner{conflict}"
    )


def _nudge(partner_ids: Iterable[int]) -> None:
    from roaming.push.tasks import nudge_partners

    nudge_partners(partner_ids)
