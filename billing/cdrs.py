"""Services that issue CDRs: the priced record of a finished session, and credit CDRs correcting one.

Every CDR is made in one transaction together with its outbox row (``push_cdr_created``): the
driver's eMSP receives it exactly once, and a CDR that failed to save is never announced.

Which tariff prices a session
-----------------------------
The first id in the connector's ``tariff_ids`` naming a tariff of the session's owner that is not
deleted and is valid when the session started. Its rows are copied whole into the CDR
(``tariff_snapshot``) and the engine prices that copy, so later edits of the tariff never change
an issued CDR.

Two cases without a tariff are told apart, as a finance clerk would:

* the connector lists no tariff at all: charging there is free (the operator chose not to price
  it), so the CDR has zero cost, no tariff, and a remark saying so;
* the connector lists tariffs but none can be used (deleted, unknown, or not valid at that time):
  that is a configuration mistake, and an immutable zero invoice would lose the revenue for good,
  so no CDR is made (``CdrError``) until staff fix the connector or the tariff and try again.

Credits
-------
A CDR is never changed. ``cdr_credit`` issues a credit CDR (the original's data with every amount
reversed, ``credit_reference_id`` naming the original, id = original id + ``-C1``) and optionally
a corrected CDR (a new id) with staff's corrected energy and times, priced again under the
original's tariff copy. A CDR is credited at most once, and a credit CDR is never credited.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation, localcontext
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from billing.costing import (
    SUB_COSTS,
    cost_columns,
    engine_tariff,
    negated_tax_lines,
    ocpi_charging_periods,
)
from billing.models import CDR, Tariff
from billing.pricing import (
    ChargingPeriodInput,
    DimensionType,
    PeriodKind,
    PriceComponent,
    PricingResult,
    SessionInputError,
    TariffElement,
    TariffError,
    price_session,
    session_from_ocpi_cdr,
)
from billing.pricing import Tariff as EngineTariff
from billing.pricing.model import exact_seconds
from billing.pricing.rounding import CALCULATION_CONTEXT
from locations.models import EVSE, Connector, Location
from roaming.modules.common import datetime_out
from roaming.modules.tariffs.serializers import tariff_snapshot, tariffs_for_ocpi
from roaming.push.services import push_cdr_created
from sessions_app.choices import SessionStatus
from sessions_app.models import Session

CREDIT_SUFFIX = "-C1"
FREE_REMARK = "No tariff applies to this connector: charging is free of charge."
# Corrections staff may give, with the unit they are read in.
CORRECTABLE = {
    "total_energy": "kWh",
    "total_time": "hours (charging and parking)",
    "total_parking_time": "hours",
}
_HOUR = Decimal(3600)


class CdrError(Exception):
    """A CDR cannot be issued as asked; the message says why, in words staff can act on."""


# --- CDR from a session ---------------------------------------------------------------------------


def applicable_tariff(*, session: Session) -> Tariff | None:
    """The tariff that prices the session: the first usable one the connector lists.

    Raises CdrError when the connector lists tariffs but none is usable (see the module docs);
    None means the connector lists none: free charging.
    """
    ids = [str(tariff_id) for tariff_id in session.connector.tariff_ids or []]
    if not ids:
        return None
    started = session.start_date_time
    candidates = tariffs_for_ocpi(
        Tariff.objects.active()
        .filter(owner=session.owner)
        .filter(Q(start_date_time__isnull=True) | Q(start_date_time__lte=started))
        .filter(Q(end_date_time__isnull=True) | Q(end_date_time__gt=started))
    )
    for tariff_id in ids:
        tariff = candidates.filter(ocpi_id__ci=tariff_id).first()
        if tariff is not None:
            return tariff
    raise CdrError(
        f"Connector {session.connector.ocpi_id} of EVSE {session.evse.uid} lists tariffs "
        f"{', '.join(ids)}, but none of them exists, is active and is valid at "
        f"{datetime_out(started)}: fix the connector or the tariff, then issue the CDR again."
    )


def cdr_location(*, location: Location, evse: EVSE, connector: Connector) -> dict[str, Any]:
    """The CDR's copy of the location, EVSE and connector as they are now."""
    snapshot: dict[str, Any] = {
        "id": location.ocpi_id,
        "name": location.name,
        "address": location.address,
        "city": location.city,
        "postal_code": location.postal_code,
        "state": location.state,
        "country": location.country,
        "coordinates": {
            "latitude": f"{location.latitude:.6f}",
            "longitude": f"{location.longitude:.6f}",
        },
        "evse_uid": evse.uid,
        "evse_id": evse.evse_id,
        "connector_id": connector.ocpi_id,
        "connector_standard": connector.standard,
        "connector_format": connector.format,
        "connector_power_type": connector.power_type,
    }
    return {key: value for key, value in snapshot.items() if value not in ("", None)}


def _free_tariff(currency: str) -> EngineTariff:
    """Prices nothing: used for connectors without a tariff, so periods are still split."""
    return EngineTariff(
        currency=currency,
        elements=(
            TariffElement(price_components=(PriceComponent(DimensionType.FLAT, Decimal(0)),)),
        ),
    )


_TIME_KINDS = frozenset({"TIME", "PARKING_TIME", "RESERVATION_TIME"})


def _session_periods(session: Session) -> list[ChargingPeriodInput]:
    """The session's measured periods as engine input.

    A period that holds one kind of time lasts, exactly, until the next period starts (or the
    session ends): the hours volume of OCPI is rounded, and 0.18 s too many could cost the
    driver a whole extra step. A session without charging periods is read as one charging
    stretch over its whole length with its total energy: the meter total is all we know then.
    """
    assert session.end_date_time is not None
    rows = list(session.charging_periods.all())
    if not rows:
        seconds = exact_seconds(session.end_date_time - session.start_date_time)
        return [
            ChargingPeriodInput(
                start=session.start_date_time, seconds=seconds, energy=Decimal(session.kwh)
            )
        ]
    ends = [row.start_date_time for row in rows[1:]] + [session.end_date_time]
    periods = []
    for row, end in zip(rows, ends, strict=True):
        dimensions = list(row.dimensions)
        kinds = [d.get("type") for d in dimensions if d.get("type") in _TIME_KINDS]
        if len(kinds) == 1 and end >= row.start_date_time:
            with localcontext(CALCULATION_CONTEXT):
                hours = exact_seconds(end - row.start_date_time) / _HOUR
            dimensions = [
                {**d, "volume": hours} if d.get("type") == kinds[0] else d for d in dimensions
            ]
        periods.append(
            {"start_date_time": datetime_out(row.start_date_time), "dimensions": dimensions}
        )
    data = {
        "start_date_time": datetime_out(session.start_date_time),
        "end_date_time": datetime_out(session.end_date_time),
        "charging_periods": periods,
    }
    try:
        return list(session_from_ocpi_cdr(data).periods)
    except SessionInputError as exc:
        raise CdrError(f"Session {session.ocpi_id} has unusable charging periods: {exc}") from exc


def _price(tariff: EngineTariff, periods: list[ChargingPeriodInput], zone: str) -> PricingResult:
    try:
        return price_session(tariff, periods, zone)
    except (TariffError, SessionInputError) as exc:
        raise CdrError(f"The session cannot be priced: {exc}") from exc


def _saved(cdr: CDR) -> CDR:
    """Validate like a form would, save, and announce the CDR to the driver's eMSP."""
    try:
        cdr.full_clean()
    except ValidationError as exc:
        raise CdrError(f"The CDR {cdr.ocpi_id} is not valid: {exc.messages}") from exc
    cdr.save()
    push_cdr_created(cdr=cdr)
    return cdr


@transaction.atomic
def cdr_create_from_session(
    *,
    session: Session,
    ocpi_id: str | None = None,
    signed_data: Mapping[str, Any] | None = None,
    now: datetime | None = None,
) -> CDR:
    """Issue the CDR of a finished session and queue it for the driver's eMSP.

    Refuses (CdrError) a session that is not COMPLETED or has no end, and a session that already
    has a CDR. ``ocpi_id`` defaults to a new UUID; ``signed_data`` is the charger's signed meter
    data when it gave any (OCPI SignedData); ``now`` stamps ``last_updated`` (default: now).
    """
    # Locking the session serializes two attempts at once: the second sees the first's CDR.
    session = (
        Session.objects.select_for_update(of=("self",))
        .select_related("owner", "emsp", "location", "evse", "connector")
        .get(pk=session.pk)
    )
    if session.status != SessionStatus.COMPLETED:
        raise CdrError(
            f"Session {session.ocpi_id} is {session.status}: a CDR is issued only for a "
            "COMPLETED session."
        )
    if session.end_date_time is None:
        raise CdrError(f"Session {session.ocpi_id} has no end time: it cannot be billed.")
    existing = CDR.objects.filter(session=session).order_by("created_at").first()
    if existing is not None:
        raise CdrError(
            f"Session {session.ocpi_id} already has CDR {existing.ocpi_id}: a session is billed "
            "once; correct it with a credit CDR."
        )

    tariff = applicable_tariff(session=session)
    periods = _session_periods(session)
    zone = session.location.time_zone
    if tariff is None:
        snapshots: list[dict[str, Any]] = []
        result = _price(_free_tariff(session.currency), periods, zone)
        tariff_id, remark = "", FREE_REMARK
    else:
        snapshot = tariff_snapshot(tariff)
        try:
            priced_by = engine_tariff(snapshot)
        except TariffError as exc:
            raise CdrError(f"Tariff {tariff.ocpi_id} cannot price a session: {exc}") from exc
        snapshots = [snapshot]
        result = _price(priced_by, periods, zone)
        tariff_id, remark = tariff.ocpi_id, ""

    cdr = CDR(
        owner=session.owner,
        ocpi_id=ocpi_id or str(uuid.uuid4()),
        start_date_time=session.start_date_time,
        end_date_time=session.end_date_time,
        session=session,
        ocpi_session_id=session.ocpi_id,
        cdr_token=dict(session.cdr_token),
        emsp=session.emsp,
        auth_method=session.auth_method,
        authorization_reference=session.authorization_reference,
        cdr_location=cdr_location(
            location=session.location, evse=session.evse, connector=session.connector
        ),
        location=session.location,
        meter_id=session.meter_id,
        tariffs=snapshots,
        charging_periods=ocpi_charging_periods(result, tariff_id),
        signed_data=dict(signed_data) if signed_data is not None else None,
        remark=remark,
        last_updated=now or timezone.now(),
        **cost_columns(result),
    )
    return _saved(cdr)


# --- credit CDRs --------------------------------------------------------------------------------------


def _reversed(cdr: CDR, *, reason: str, now: datetime) -> CDR:
    """The credit CDR of `cdr`: the same record with every amount reversed."""
    money: dict[str, Any] = {}
    for name in ("total_cost", *(name for name, _ in SUB_COSTS)):
        amount = getattr(cdr, name)
        money[name] = None if amount is None else -amount
        money[f"{name}_taxes"] = negated_tax_lines(getattr(cdr, f"{name}_taxes"))
    return CDR(
        owner=cdr.owner,
        ocpi_id=cdr.ocpi_id + CREDIT_SUFFIX,
        start_date_time=cdr.start_date_time,
        end_date_time=cdr.end_date_time,
        session=cdr.session,
        ocpi_session_id=cdr.ocpi_session_id,
        booking_id=cdr.booking_id,
        cdr_token=cdr.cdr_token,
        emsp=cdr.emsp,
        auth_method=cdr.auth_method,
        authorization_reference=cdr.authorization_reference,
        cdr_location=cdr.cdr_location,
        location=cdr.location,
        meter_id=cdr.meter_id,
        currency=cdr.currency,
        tariffs=cdr.tariffs,
        charging_periods=cdr.charging_periods,
        signed_data=cdr.signed_data,
        total_energy=cdr.total_energy,
        total_time=cdr.total_time,
        total_parking_time=cdr.total_parking_time,
        remark=f"Credit of CDR {cdr.ocpi_id}: {reason}"[:255],
        credit=True,
        credit_reference_id=cdr.ocpi_id,
        home_charging_compensation=cdr.home_charging_compensation,
        last_updated=now,
        **money,
    )


def _hours(corrected: Mapping[str, Any], key: str, default: Decimal) -> Decimal:
    value = corrected.get(key)
    if value is None:
        return default
    try:
        number = Decimal(str(value))
    except InvalidOperation as exc:
        raise CdrError(f"Corrected {key} must be a number, not {value!r}.") from exc
    if not number.is_finite() or number < 0:
        raise CdrError(f"Corrected {key} must be a number of at least 0, not {value!r}.")
    return number


def _peaks(cdr: CDR) -> tuple[Decimal | None, Decimal | None]:
    """Highest current and power measured in the original's charging periods, if any."""
    found: dict[str, Decimal] = {}
    for period in cdr.charging_periods:
        for dim in period.get("dimensions", []):
            kind = {"CURRENT": "MAX_CURRENT", "POWER": "MAX_POWER"}.get(dim["type"], dim["type"])
            if kind in ("MAX_CURRENT", "MAX_POWER"):
                value = Decimal(str(dim["volume"]))
                found[kind] = max(found.get(kind, value), value)
    return found.get("MAX_CURRENT"), found.get("MAX_POWER")


def _corrected(cdr: CDR, corrected: Mapping[str, Any], *, zone: str, now: datetime) -> CDR:
    """A new CDR with staff's corrected quantities, priced again under the original's tariffs.

    The corrected session is laid out as one charging stretch from the original start with the
    corrected energy, followed by the corrected parking time; current and power peaks are the
    original's. Quantities not given stay as they were.
    """
    unknown = sorted(set(corrected) - set(CORRECTABLE))
    if unknown:
        raise CdrError(
            f"Cannot correct {', '.join(unknown)}; only {', '.join(CORRECTABLE)} can be corrected."
        )
    energy = _hours(corrected, "total_energy", cdr.total_energy)
    total = _hours(corrected, "total_time", cdr.total_time)
    parking = _hours(corrected, "total_parking_time", cdr.total_parking_time or Decimal(0))
    if parking > total:
        raise CdrError("The corrected parking time is longer than the corrected total time.")
    current, power = _peaks(cdr)
    charging_seconds = (total - parking) * _HOUR
    periods = [
        ChargingPeriodInput(
            start=cdr.start_date_time,
            seconds=charging_seconds,
            energy=energy,
            max_current=current,
            max_power=power,
        )
    ]
    if parking:
        periods.append(
            ChargingPeriodInput(
                start=cdr.start_date_time + timedelta(seconds=float(charging_seconds)),
                seconds=parking * _HOUR,
                kind=PeriodKind.PARKING,
            )
        )
    if cdr.tariffs:
        snapshot = cdr.tariffs[0]
        try:
            tariff = engine_tariff(snapshot)
        except TariffError as exc:
            raise CdrError(f"The tariff copy of CDR {cdr.ocpi_id} cannot price: {exc}") from exc
        tariff_id = str(snapshot.get("id") or "")
    else:
        tariff, tariff_id = _free_tariff(cdr.currency), ""
    result = _price(tariff, periods, zone)
    end = cdr.start_date_time + timedelta(seconds=float(total * _HOUR))
    return CDR(
        owner=cdr.owner,
        ocpi_id=str(uuid.uuid4()),
        start_date_time=cdr.start_date_time,
        end_date_time=end,
        session=cdr.session,
        ocpi_session_id=cdr.ocpi_session_id,
        booking_id=cdr.booking_id,
        cdr_token=cdr.cdr_token,
        emsp=cdr.emsp,
        auth_method=cdr.auth_method,
        authorization_reference=cdr.authorization_reference,
        cdr_location=cdr.cdr_location,
        location=cdr.location,
        meter_id=cdr.meter_id,
        tariffs=cdr.tariffs,
        charging_periods=ocpi_charging_periods(result, tariff_id),
        remark=f"Corrects CDR {cdr.ocpi_id}.",
        home_charging_compensation=cdr.home_charging_compensation,
        last_updated=now,
        **cost_columns(result),
    )


def _time_zone(cdr: CDR) -> str:
    """The local time zone tariff restrictions of the CDR's location are read in."""
    if cdr.location is not None:
        return cdr.location.time_zone
    if cdr.session is not None:
        return cdr.session.location.time_zone
    return "UTC"


@transaction.atomic
def cdr_credit(
    *,
    cdr: CDR,
    reason: str,
    corrected: dict[str, Any] | None = None,
    now: datetime | None = None,
) -> tuple[CDR, CDR | None]:
    """Credit a CDR (and, given ``corrected`` quantities, issue the corrected CDR); push both.

    ``corrected`` may hold ``total_energy`` (kWh), ``total_time`` and ``total_parking_time``
    (hours); the corrected CDR is priced under the original's tariff copy. Refuses (CdrError) an
    empty reason, a credit CDR, and a CDR already credited.
    """
    reason = reason.strip()
    if not reason:
        raise CdrError("Give the reason for the credit: the eMSP and the driver will see it.")
    original = CDR.objects.select_for_update().get(pk=cdr.pk)
    if original.credit:
        raise CdrError(f"CDR {original.ocpi_id} is itself a credit CDR and cannot be credited.")
    already = CDR.objects.filter(
        owner=original.owner, credit=True, credit_reference_id__ci=original.ocpi_id
    ).first()
    if already is not None:
        raise CdrError(f"CDR {original.ocpi_id} was already credited by {already.ocpi_id}.")
    stamp = now or timezone.now()
    credit = _saved(_reversed(original, reason=reason, now=stamp))
    replacement = None
    if corrected is not None:
        replacement = _saved(_corrected(original, corrected, zone=_time_zone(original), now=stamp))
    return credit, replacement
