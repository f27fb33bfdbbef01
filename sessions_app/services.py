"""Services of sessions_app: tokens eMSPs push, charging sessions, EVSE status, reservations."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal
from typing import Any, TypedDict
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Case, IntegerField, Q, QuerySet, Value, When
from django.utils import timezone

from billing import cdrs as billing_cdrs
from billing.costing import engine_tariff, tax_lines
from billing.models import Tariff, TariffElement
from billing.pricing import ChargingPeriodInput, SessionInputError, TariffError, price_session
from billing.pricing import PeriodKind as EnginePeriodKind
from locations.choices import Status as EvseStatus
from locations.models import EVSE, Connector, Location
from roaming.models import Party
from roaming.modules.tariffs.serializers import tariff_snapshot
from roaming.ownership import OwnershipError, ensure_partner_emsp
from roaming.push.services import (
    push_evses_changed,
    push_locations_opened,
    push_session_changed,
)
from sessions_app.choices import (
    AuthMethod,
    CdrDimensionType,
    PeriodKind,
    ReservationStatus,
    SessionStatus,
    TokenType,
)
from sessions_app.models import (
    Reservation,
    Session,
    SessionChargingPeriod,
    SessionMeter,
    Token,
)

logger = logging.getLogger(__name__)


class TokenValues(TypedDict, total=False):
    """Token fields an eMSP may set, by model field name; identity (owner, uid, type) apart."""

    contract_id: str
    visual_number: str
    issuer: str
    group_id: str
    valid: bool
    whitelist: str
    language: str
    default_profile_type: str
    energy_contract: dict[str, Any] | None
    last_updated: datetime


TOKEN_VALUE_FIELDS = frozenset(TokenValues.__annotations__)

# Columns validated against the open TokenType enum by the wire layer, not by the model's choices:
# OCPI 2.3.0 lets eMSPs send token types newer than ours, which we keep as given.
_UNCHECKED_CHOICES = ("type",)


class TokenNotFoundError(LookupError):
    """No token of that owner, uid and type in our cache."""


@dataclass(frozen=True)
class TokenUpsert:
    token: Token
    created: bool


def ensure_token_sender(*, sender: Party, owner: Party) -> None:
    """Only the partner eMSP that owns a token may read or change it in our cache."""
    if sender.pk != owner.pk:
        raise OwnershipError(
            {"owner": f"{owner.code} owns this token; {sender.code} may not touch it."}
        )
    ensure_partner_emsp(owner)


def token_find(
    *, owner: Party, uid: str, token_type: str | None, lock: bool = False
) -> Token | None:
    """The owner's token with this uid (compared case-insensitively) and type.

    ``token_type`` None matches any type, preferring RFID: OCPI 2.1.1 addresses a token by its
    uid alone. ``lock``: locked for update until the caller's transaction ends.
    """
    # No join of the owner: the caller holds it already.
    tokens = Token.objects.filter(owner=owner, uid__ci=uid)
    if lock:
        tokens = tokens.select_for_update()
    if token_type is not None:
        # (owner, lower(uid), type) is unique: no order to compile or sort by.
        found = next(iter(tokens.filter(type=token_type).order_by()[:1]), None)
    else:
        rfid_first = Case(
            When(type=TokenType.RFID, then=Value(0)), default=Value(1), output_field=IntegerField()
        )
        found = tokens.order_by(rfid_first, "type", "pk").first()
    if found is not None:
        found.owner = owner
    return found


def token_upsert(
    *, sender: Party, owner: Party, uid: str, token_type: str, values: TokenValues
) -> TokenUpsert:
    """Create or replace the owner's token (uid, type) with the given values.

    Fields left out of ``values`` keep their stored value (new tokens: the model default), so a
    version that lacks a field never wipes what a newer version stored. ``last_updated`` is kept
    as the eMSP gave it. Raises ``OwnershipError`` when ``sender`` is not the owning partner eMSP
    and Django ``ValidationError`` naming model fields for invalid values.
    """
    ensure_token_sender(sender=sender, owner=owner)
    try:
        return _upsert(owner, uid, token_type, values)
    except IntegrityError:
        # A concurrent first PUT of the same token won the insert: this one replaces it.
        return _upsert(owner, uid, token_type, values)


def token_patch(
    *,
    sender: Party,
    owner: Party,
    uid: str,
    token_type: str | None,
    changes: TokenValues | Callable[[Token], TokenValues],
    last_updated: datetime | None = None,
) -> Token:
    """Change some fields of a stored token; every PATCH moves ``last_updated``.

    ``changes`` may be a function of the stored token, called with the token locked, for a
    caller that checks the change against what is stored. ``last_updated`` is the one in the
    changes, else the one given, else now. Raises ``TokenNotFoundError`` for a token we do not
    have, ``OwnershipError`` and ``ValidationError`` as ``token_upsert`` does.
    """
    ensure_token_sender(sender=sender, owner=owner)
    with transaction.atomic():
        token = token_find(owner=owner, uid=uid, token_type=token_type, lock=True)
        if token is None:
            raise TokenNotFoundError(f"{owner.code} has no token {uid!r} here")
        values: dict[str, Any] = dict(changes(token) if callable(changes) else changes)
        new_last_updated: datetime = (
            values.pop("last_updated", None) or last_updated or timezone.now()
        )
        listed_as = _listed_as(token)
        _assign(token, values)
        token.last_updated = new_last_updated
        _clean_and_save(token)
        _push_locations_opened(token, listed_as)
    return token


@transaction.atomic
def _upsert(owner: Party, uid: str, token_type: str, values: TokenValues) -> TokenUpsert:
    token = token_find(owner=owner, uid=uid, token_type=token_type, lock=True)
    created = token is None
    listed_as = None if token is None else _listed_as(token)
    if token is None:
        token = Token(owner=owner, type=token_type)
    token.uid = uid  # the eMSP's latest spelling of a case-insensitive id
    _assign(token, values)
    _clean_and_save(token)
    _push_locations_opened(token, listed_as)
    return TokenUpsert(token, created)


# Token fields a location's publish_allowed_to entries name.
_LISTED_BY = ("uid", "type", "visual_number", "issuer", "group_id")


def _listed_as(token: Token) -> tuple[str, ...]:
    return tuple(getattr(token, name) for name in _LISTED_BY)


def _push_locations_opened(token: Token, listed_as: tuple[str, ...] | None) -> None:
    """A new token, or one changed in what location lists name, may open locations to its eMSP."""
    now_listed_as = _listed_as(token)
    if now_listed_as != listed_as:
        listed = dict(zip(_LISTED_BY, now_listed_as, strict=True))
        push_locations_opened(owner_id=token.owner_id, tokens=[listed])


def _assign(token: Token, values: Mapping[str, Any]) -> None:
    unknown = set(values) - TOKEN_VALUE_FIELDS
    if unknown:
        raise TypeError(f"Not token values: {sorted(unknown)}")
    for name, value in values.items():
        setattr(token, name, value)


def _clean_and_save(token: Token) -> None:
    # Uniqueness is the database's job (see token_upsert); an owner that is no partner eMSP was
    # refused before.
    token.full_clean(exclude=["owner", *_UNCHECKED_CHOICES], validate_unique=False)
    token.save()


# --- charging sessions, as chargers report them ---------------------------------------------------

# A power level this far from the one a period was opened at starts a new period: energy prices
# may depend on power (tariff power restrictions), and partners see the charging curve.
POWER_STEP_KW = Decimal("1")
POWER_STEP_SHARE = Decimal("0.10")
_HOURS = Decimal(3600)
_ENERGY_PLACES = Decimal("0.0001")
_HOURS_PLACES = Decimal("0.000001")
_POWER_PLACES = Decimal("0.001")


class SessionStateError(ValueError):
    """The charger reported something the session's state does not allow."""


def evse_status_report(*, evse: EVSE, status: str) -> bool:
    """The charger reports its EVSE's status; partners hear of a change. True when it changed.

    A REMOVED EVSE stays removed whatever its charger says: it is gone for partners.
    """
    return evse_statuses_report(reports=[(evse, status)]) == 1


def _evses_for_status() -> QuerySet[EVSE]:
    """EVSEs locked for a status change, with what telling partners reads of them."""
    return (
        EVSE.objects.select_for_update(of=("self",))
        .select_related("location__owner")
        .only(
            *("id", "uid", "status", "last_updated", "location_id"),
            *("location__id", "location__ocpi_id", "location__publish", "location__owner_id"),
            *("location__owner__country_code", "location__owner__party_id"),
        )
    )


def evse_statuses_report(*, reports: Sequence[tuple[EVSE, str]]) -> int:
    """Chargers report the statuses of several EVSEs at once (a gateway applying the status
    notifications that arrived together): ``evse_status_report`` for each, in one transaction,
    the partners told of every change and nudged once. The last report of an EVSE wins. Returns
    how many EVSEs changed.
    """
    wanted = {evse.pk: status for evse, status in reports}
    with transaction.atomic():
        # The same locking order in every batch: no deadlock between two.
        locked = list(_evses_for_status().filter(pk__in=wanted).order_by("pk"))
        changed = [
            evse
            for evse in locked
            if evse.status != wanted[evse.pk] and evse.status != EvseStatus.REMOVED
        ]
        if not changed:
            return 0
        now = timezone.now()
        for status in {wanted[evse.pk] for evse in changed}:
            EVSE.objects.filter(pk__in=[e.pk for e in changed if wanted[e.pk] == status]).update(
                status=status, last_updated=now
            )
        # As EVSE.save does for one: the locations move with their EVSEs.
        Location.objects.filter(pk__in={evse.location_id for evse in changed}).update(
            last_updated=now
        )
        for evse in changed:
            evse.status, evse.last_updated = wanted[evse.pk], now
        push_evses_changed(evses=changed, fields=["status"])
    changed_pks = {evse.pk for evse in changed}
    for evse, _ in reports:
        if evse.pk in changed_pks:
            evse.status = wanted[evse.pk]
    return len(changed)


def session_start(
    *,
    connector: Connector,
    token: Token,
    auth_method: str,
    started_at: datetime,
    authorization_reference: str = "",
    meter_id: str = "",
) -> Session:
    """Open a session at a connector for an authorized token; partners get it (PUT).

    The session is PENDING until energy flows (see ``session_meter_update``). A reservation of
    this token for the EVSE (or its location) is fulfilled by it: its RESERVATION session goes on
    as this one (same id), so the eMSP sees its reservation turn into charging.
    """
    with transaction.atomic():
        connector = Connector.objects.select_related("evse__location__owner").get(pk=connector.pk)
        evse = connector.evse
        location = evse.location
        if Session.objects.filter(
            connector__evse=evse, status__in=(SessionStatus.PENDING, SessionStatus.ACTIVE)
        ).exists():
            raise SessionStateError(f"EVSE {evse} already has a session under way")
        tariff = connector_tariff(connector=connector, at=started_at)
        reserved = _fulfil_reservation(token=token, evse=evse)
        session = reserved or Session(owner=location.owner, ocpi_id=uuid.uuid4().hex)
        session.start_date_time = started_at
        session.kwh = Decimal(0)
        session.token = token
        session.cdr_token = _cdr_token(token)
        session.emsp = token.owner
        # The method of the last authorization counts; so does the eMSP's last reference.
        session.auth_method = auth_method
        session.authorization_reference = (
            authorization_reference or session.authorization_reference or ""
        )
        session.location, session.evse, session.connector = location, evse, connector
        session.meter_id = meter_id
        session.currency = tariff.currency if tariff is not None else DEFAULT_CURRENCY
        session.status = SessionStatus.PENDING
        session.full_clean(validate_unique=False, validate_constraints=False)
        session.save()
        SessionMeter.objects.create(
            session=session,
            period_start=started_at,
            period_kind=PeriodKind.CHARGING,
            period_kwh_start=Decimal(0),
            period_power_kw=Decimal(0),
            period_max_power_kw=Decimal(0),
            period_tariff_id=tariff.ocpi_id if tariff is not None else "",
            last_reading_at=started_at,
            last_pushed_at=started_at,
        )
        push_session_changed(session=session)
    return session


def session_meter_update(
    *,
    session: Session,
    at: datetime,
    kwh: Decimal,
    power_kw: Decimal,
    state_of_charge: int | None = None,
) -> Session:
    """The charger's meter reading: ``kwh`` delivered since the start, ``power_kw`` right now.

    Charging periods are cut where the cost may change: at a power step, between charging and
    parking (no power), and where a restriction of the connector's tariff begins or ends (local
    time of day in the location's zone, kWh so far, session duration). Closed periods are
    appended for partners; totals are kept current. Partners hear of meter updates at most once
    per ``CHARGING_SESSION_PUSH_INTERVAL_SECONDS`` per session, and at once of a status change.
    """
    with transaction.atomic():
        session, meter = _locked(session)
        if at < meter.last_reading_at:
            return session  # a late, out-of-order reading: the newer one already counts
        if kwh < session.kwh:
            raise SessionStateError(f"Meter of session {session} went back: {kwh} < {session.kwh}")
        status_changed = _advance(session, meter, at=at, kwh=kwh, power_kw=power_kw)
        meter.state_of_charge = state_of_charge
        session.kwh = kwh
        push = status_changed or _push_due(meter, at)
        if push:
            meter.last_pushed_at = at
            _update_cost(session, meter, at)
        meter.save()
        session.save()
        if push:
            push_session_changed(session=session)
    return session


def session_stop(*, session: Session, at: datetime, kwh: Decimal | None = None) -> Session:
    """The charger ended the session: last reading, period closed, partners get the final state.

    A session that never delivered energy is INVALID (nothing to bill); any other is COMPLETED and
    billing makes its CDR (``cdr_create_from_session``), which partners get too.
    """
    with transaction.atomic():
        session, meter = _locked(session)
        final_kwh = session.kwh if kwh is None else max(kwh, session.kwh)
        at = max(at, meter.last_reading_at)
        _advance(session, meter, at=at, kwh=final_kwh, power_kw=Decimal(0), closing=True)
        session.kwh = final_kwh
        session.end_date_time = at
        session.status = (
            SessionStatus.COMPLETED
            if session.status == SessionStatus.ACTIVE or final_kwh > 0
            else SessionStatus.INVALID
        )
        meter.last_pushed_at = at
        meter.save()
        _update_cost(session, meter, at)
        session.save()
        push_session_changed(session=session)
        if session.status == SessionStatus.COMPLETED:
            _bill(session)
    return session


def connector_tariff(*, connector: Connector, at: datetime) -> Tariff | None:
    """The connector's first tariff of its location's owner in force at ``at``, if any."""
    ids = [str(i) for i in connector.tariff_ids or []]
    if not ids:
        return None
    owner_id = connector.evse.location.owner_id
    tariffs = {
        t.ocpi_id.lower(): t
        for t in Tariff.objects.active().filter(owner_id=owner_id, ocpi_id__in=ids)
        if (t.start_date_time is None or t.start_date_time <= at)
        and (t.end_date_time is None or at < t.end_date_time)
    }
    return next((tariffs[i.lower()] for i in ids if i.lower() in tariffs), None)


DEFAULT_CURRENCY = "EUR"
_UNDER_WAY = (SessionStatus.PENDING, SessionStatus.ACTIVE)


def _cdr_token(token: Token) -> dict[str, str]:
    return {
        "country_code": token.owner.country_code,
        "party_id": token.owner.party_id,
        "uid": token.uid,
        "type": token.type,
        "contract_id": token.contract_id,
    }


def _locked(session: Session) -> tuple[Session, SessionMeter]:
    locked = (
        Session.objects.select_for_update(of=("self",))
        .select_related("owner", "emsp", "location", "evse", "connector__evse__location")
        .get(pk=session.pk)
    )
    if locked.status not in _UNDER_WAY:
        raise SessionStateError(f"Session {locked} is {locked.status}, not under way")
    meter = SessionMeter.objects.select_for_update().filter(session=locked).first()
    if meter is None:
        meter = _meter_for_adopted(locked)
    return locked, meter


def _meter_for_adopted(session: Session) -> SessionMeter:
    """A meter for a session under way that did not start here (imported, or from before the
    gateway): its open period starts where its stored periods end, at its stored energy."""
    last = session.charging_periods.order_by("-start_date_time").first()
    since = max(session.start_date_time, session.last_updated)
    if last is not None:
        since = max(since, last.start_date_time)
    return SessionMeter.objects.create(
        session=session,
        period_start=since,
        period_kind=PeriodKind.CHARGING,
        period_kwh_start=session.kwh,
        period_power_kw=Decimal(0),
        period_max_power_kw=Decimal(0),
        period_tariff_id=_tariff_id_at(session, since),
        last_reading_at=since,
        last_pushed_at=since,
    )


def _push_due(meter: SessionMeter, at: datetime) -> bool:
    interval = timedelta(seconds=settings.CHARGING_SESSION_PUSH_INTERVAL_SECONDS)
    return meter.last_pushed_at is None or at - meter.last_pushed_at >= interval


def _advance(
    session: Session,
    meter: SessionMeter,
    *,
    at: datetime,
    kwh: Decimal,
    power_kw: Decimal,
    closing: bool = False,
) -> bool:
    """Move the open period to ``at``, closing periods where the cost may change.

    Returns True when the session's status changed (PENDING -> ACTIVE on the first energy).
    """
    t0, k0 = meter.last_reading_at, session.kwh
    for cut in _tariff_cuts(session, meter, t0=t0, t1=at, k0=k0, k1=kwh):
        _close_period(session, meter, end=cut, kwh_at_end=_energy_at(cut, t0, at, k0, kwh))
        meter.period_start = cut
        meter.period_kwh_start = _energy_at(cut, t0, at, k0, kwh)
        meter.period_power_kw = meter.last_power_kw
        meter.period_max_power_kw = meter.last_power_kw
        meter.period_tariff_id = _tariff_id_at(session, cut)
    kind = PeriodKind.CHARGING if power_kw > 0 else PeriodKind.PARKING
    # Before the first energy, the vehicle is not parking yet: the session is pending.
    if session.status == SessionStatus.PENDING and kwh == 0 and power_kw == 0:
        kind = PeriodKind.CHARGING
    meter.period_max_power_kw = max(meter.period_max_power_kw, meter.last_power_kw)
    if closing or kind != meter.period_kind or _power_step(meter.period_power_kw, power_kw):
        _close_period(session, meter, end=at, kwh_at_end=kwh)
        meter.period_start = at
        meter.period_kwh_start = kwh
        meter.period_kind = kind
        meter.period_power_kw = power_kw
        meter.period_max_power_kw = power_kw
        meter.period_tariff_id = _tariff_id_at(session, at)
    meter.period_max_power_kw = max(meter.period_max_power_kw, power_kw)
    meter.last_reading_at = at
    meter.last_power_kw = power_kw
    if session.status == SessionStatus.PENDING and (kwh > 0 or power_kw > 0):
        session.status = SessionStatus.ACTIVE
        return True
    return False


def _power_step(level: Decimal, power_kw: Decimal) -> bool:
    return abs(power_kw - level) >= max(POWER_STEP_KW, level * POWER_STEP_SHARE)


def _energy_at(cut: datetime, t0: datetime, t1: datetime, k0: Decimal, k1: Decimal) -> Decimal:
    """Energy at an instant between two readings, assuming it flowed evenly in between."""
    if t1 <= t0:
        return k1
    share = Decimal((cut - t0).total_seconds()) / Decimal((t1 - t0).total_seconds())
    return (k0 + (k1 - k0) * share).quantize(_ENERGY_PLACES)


def _close_period(
    session: Session, meter: SessionMeter, *, end: datetime, kwh_at_end: Decimal
) -> None:
    seconds = Decimal((end - meter.period_start).total_seconds())
    if seconds <= 0:
        return
    hours = (seconds / _HOURS).quantize(_HOURS_PLACES)
    energy = (kwh_at_end - meter.period_kwh_start).quantize(_ENERGY_PLACES)
    dimensions: list[dict[str, Any]]
    if meter.period_kind == PeriodKind.CHARGING:
        dimensions = [
            {"type": CdrDimensionType.ENERGY, "volume": _number(energy)},
            {"type": CdrDimensionType.TIME, "volume": _number(hours)},
            {
                "type": CdrDimensionType.MAX_POWER,
                "volume": _number(meter.period_max_power_kw.quantize(_POWER_PLACES)),
            },
        ]
    else:
        dimensions = [{"type": CdrDimensionType.PARKING_TIME, "volume": _number(hours)}]
        if energy > 0:
            dimensions.insert(0, {"type": CdrDimensionType.ENERGY, "volume": _number(energy)})
    if meter.state_of_charge is not None:
        dimensions.append(
            {"type": CdrDimensionType.STATE_OF_CHARGE, "volume": meter.state_of_charge}
        )
    SessionChargingPeriod.objects.create(
        session=session,
        start_date_time=meter.period_start,
        dimensions=dimensions,
        tariff_id=meter.period_tariff_id,
    )


def _number(value: Decimal) -> int | float:
    """A volume as a JSON number (OCPI's number type); rounded values survive the float."""
    return int(value) if value == value.to_integral_value() else float(value)


def _tariff_id_at(session: Session, at: datetime) -> str:
    tariff = connector_tariff(connector=session.connector, at=at)
    return tariff.ocpi_id if tariff is not None else ""


def _tariff_cuts(
    session: Session,
    meter: SessionMeter,
    *,
    t0: datetime,
    t1: datetime,
    k0: Decimal,
    k1: Decimal,
) -> list[datetime]:
    """Instants strictly between two readings where a tariff restriction may begin or end."""
    if t1 <= t0:
        return []
    tariff = connector_tariff(connector=session.connector, at=t0)
    cuts: set[datetime] = set()
    if tariff is not None and tariff.end_date_time is not None and t0 < tariff.end_date_time < t1:
        cuts.add(tariff.end_date_time)  # another tariff (or none) from then on
    if tariff is None:
        return sorted(cuts)
    zone = ZoneInfo(session.location.time_zone)
    day_marks: set[time] = set()
    for element in TariffElement.objects.filter(tariff=tariff):
        day_marks.update(t for t in (element.start_time, element.end_time) if t is not None)
        if element.start_date or element.end_date or element.day_of_week:
            day_marks.add(time(0))
        for mark in (element.min_duration, element.max_duration):
            if mark is not None:
                cuts.add(session.start_date_time + timedelta(seconds=mark))
        for energy_mark in (element.min_kwh, element.max_kwh):
            if energy_mark is not None and k0 < energy_mark < k1:
                share = (energy_mark - k0) / (k1 - k0)
                cuts.add(t0 + timedelta(seconds=float(share) * (t1 - t0).total_seconds()))
    day = t0.astimezone(zone).date()
    while day <= t1.astimezone(zone).date():
        for day_mark in day_marks:
            cuts.add(datetime.combine(day, day_mark, tzinfo=zone).astimezone(UTC))
        day += timedelta(days=1)
    return sorted(c for c in cuts if t0 < c < t1 and c > meter.period_start)


def _update_cost(session: Session, meter: SessionMeter, at: datetime) -> None:
    """Price the session so far under its tariff, so partners see a current total cost.

    A session that cannot be priced (no usable tariff, periods the engine refuses) keeps its last
    known cost: the CDR, not this estimate, is what is billed.
    """
    try:
        tariff = billing_cdrs.applicable_tariff(session=session)
        if tariff is None:
            session.total_cost, session.total_cost_taxes = Decimal(0), None
            return
        result = price_session(
            engine_tariff(tariff_snapshot(tariff)),
            _priced_periods(session, meter, at),
            session.location.time_zone,
        )
    except (billing_cdrs.CdrError, TariffError, SessionInputError) as error:
        logger.warning("Session %s cannot be priced yet: %s", session, error)
        return
    session.total_cost = result.total_cost.excl_tax
    session.total_cost_taxes = tax_lines(result.total_cost)


def _priced_periods(
    session: Session, meter: SessionMeter, at: datetime
) -> list[ChargingPeriodInput]:
    rows = list(SessionChargingPeriod.objects.filter(session=session))
    ends = [row.start_date_time for row in rows[1:]] + [meter.period_start] * bool(rows)
    periods = [
        _period_input(row.start_date_time, end, _volumes(row.dimensions))
        for row, end in zip(rows, ends, strict=True)
    ]
    if at > meter.period_start:
        open_volumes = {
            "ENERGY": session.kwh - meter.period_kwh_start,
            "MAX_POWER": meter.period_max_power_kw,
            "PARKING": Decimal(meter.period_kind == PeriodKind.PARKING),
        }
        periods.append(_period_input(meter.period_start, at, open_volumes))
    return periods


def _volumes(dimensions: list[dict[str, Any]]) -> dict[str, Decimal]:
    volumes = {d["type"]: Decimal(str(d["volume"])) for d in dimensions}
    volumes["PARKING"] = Decimal(CdrDimensionType.PARKING_TIME in volumes)
    return volumes


def _period_input(
    start: datetime, end: datetime, volumes: dict[str, Decimal]
) -> ChargingPeriodInput:
    parking = bool(volumes.get("PARKING"))
    return ChargingPeriodInput(
        start=start,
        seconds=Decimal((end - start).total_seconds()),
        kind=EnginePeriodKind.PARKING if parking else EnginePeriodKind.CHARGING,
        energy=volumes.get("ENERGY", Decimal(0)),
        max_power=None if parking else volumes.get("MAX_POWER"),
    )


def _bill(session: Session) -> None:
    """Billing issues the CDR of a completed session (its own savepoint).

    A session billing cannot price yet (a connector listing no usable tariff) stays COMPLETED and
    is logged: staff fix the tariff and issue the CDR from admin; the session must not be lost.
    """
    try:
        billing_cdrs.cdr_create_from_session(session=session)
    except billing_cdrs.CdrError as error:
        logger.error("No CDR for session %s: %s", session, error)


def _fulfil_reservation(*, token: Token, evse: EVSE) -> Session | None:
    """Mark the token's reservations of this EVSE (or its location) fulfilled; returns the
    RESERVATION session of the one that had it, for the charging session to continue."""
    held = list(
        Reservation.objects.select_for_update(of=("self",))
        .select_related("session")
        .filter(
            Q(evse=evse) | Q(evse__isnull=True, location_id=evse.location_id),
            token=token,
            status=ReservationStatus.RESERVED,
        )
        .order_by("created_at", "id")
    )
    for reservation in held:
        reservation.status = ReservationStatus.FULFILLED
        reservation.save(update_fields=["status", "last_updated"])
    return next(
        (
            r.session
            for r in held
            if r.session is not None and r.session.status == SessionStatus.RESERVATION
        ),
        None,
    )


# --- reservations --------------------------------------------------------------------------------


def reservation_create(
    *,
    emsp: Party,
    token: Token,
    reservation_id: str,
    location: Location,
    evse: EVSE | None,
    held_at: EVSE,
    expiry_date: datetime,
    authorization_reference: str = "",
    at: datetime | None = None,
) -> Reservation:
    """Record a reservation the charger of ``held_at`` accepted, and its session for partners.

    ``evse`` is what the eMSP reserved (None: any EVSE of the location), ``held_at`` the EVSE
    whose charger holds it. The OCPI sessions module has the CPO create a session in status
    RESERVATION for an accepted reservation and push it; it becomes the charging session when
    the driver starts (``session_start``). An eMSP's new reservation with the id of one still
    held replaces it, with the same session.
    """
    at = at or timezone.now()
    with transaction.atomic():
        reservation = (
            Reservation.objects.select_for_update(of=("self",))
            .select_related("session")
            .filter(emsp=emsp, reservation_id__ci=reservation_id)
            .first()
        ) or Reservation(emsp=emsp, reservation_id=reservation_id)
        reservation.token = token
        reservation.location = location
        reservation.evse = evse
        reservation.expiry_date = expiry_date
        reservation.authorization_reference = authorization_reference
        reservation.status = ReservationStatus.RESERVED
        reservation.full_clean(validate_unique=False, validate_constraints=False)
        reservation.session = _reservation_session(reservation, held_at=held_at, at=at)
        reservation.save()
    return reservation


def reservation_find(*, emsp: Party, reservation_id: str) -> Reservation | None:
    return (
        Reservation.objects.select_related("evse", "location")
        .filter(emsp=emsp, reservation_id__ci=reservation_id)
        .first()
    )


def reservation_cancel(*, reservation: Reservation, at: datetime | None = None) -> Reservation:
    """The eMSP's reservation is canceled (its charger confirmed); its session ends."""
    at = at or timezone.now()
    with transaction.atomic():
        locked = (
            Reservation.objects.select_for_update(of=("self",))
            .select_related("session")
            .get(pk=reservation.pk)
        )
        if locked.status == ReservationStatus.RESERVED:
            locked.status = ReservationStatus.CANCELED
            locked.save(update_fields=["status", "last_updated"])
            _reservation_session_end(locked, at=at)
    reservation.refresh_from_db()
    return reservation


def reservation_expire_due(*, now: datetime) -> list[Reservation]:
    """Mark reservations past their expiry EXPIRED and end their sessions; returns them."""
    with transaction.atomic():
        due = list(
            Reservation.objects.select_for_update(of=("self",))
            .select_related("evse", "location", "session")
            .filter(status=ReservationStatus.RESERVED, expiry_date__lte=now)
        )
        for reservation in due:
            reservation.status = ReservationStatus.EXPIRED
            reservation.save(update_fields=["status", "last_updated"])
            _reservation_session_end(reservation, at=now)
    return due


def _reservation_session(
    reservation: Reservation, *, held_at: EVSE, at: datetime
) -> Session | None:
    """The RESERVATION session of a reservation being made or replaced, pushed to its eMSP.

    A session needs a connector: the reserved EVSE's first one stands in until the driver
    plugs in (an EVSE without connectors cannot be reserved for charging, so it gets none).
    """
    connector = Connector.objects.filter(evse=held_at).order_by("pk").first()
    if connector is None:
        logger.warning("Reservation %s held at EVSE %s without connectors", reservation, held_at)
        return None
    session = reservation.session
    if session is None or session.status != SessionStatus.RESERVATION:
        location = reservation.location
        session = Session(
            owner=location.owner,
            ocpi_id=uuid.uuid4().hex,
            start_date_time=at,
            kwh=Decimal(0),
            status=SessionStatus.RESERVATION,
            auth_method=AuthMethod.COMMAND,
        )
    tariff = connector_tariff(connector=connector, at=at)
    session.token = reservation.token
    session.cdr_token = _cdr_token(reservation.token)
    session.emsp = reservation.emsp
    session.authorization_reference = reservation.authorization_reference
    session.location, session.evse, session.connector = reservation.location, held_at, connector
    session.currency = tariff.currency if tariff is not None else DEFAULT_CURRENCY
    session.full_clean(validate_unique=False, validate_constraints=False)
    session.save()
    push_session_changed(session=session)
    return session


def _reservation_session_end(reservation: Reservation, *, at: datetime) -> None:
    """A reservation canceled or expired unused: its session ends COMPLETED.

    COMPLETED, not INVALID, because the OCPI sessions module says so for a reservation that
    does not lead to charging: the reservation did happen (INVALID means "declared invalid, not
    to be billed"). No CDR follows: we do not price reservations (a CDR for one is optional).
    """
    session = reservation.session
    if session is None or session.status != SessionStatus.RESERVATION:
        return
    session.status = SessionStatus.COMPLETED
    session.end_date_time = max(at, session.start_date_time)
    session.save()
    push_session_changed(session=session)
