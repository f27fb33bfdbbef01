"""Turn OCPI 2.1.1 / 2.2.1 / 2.3.0 tariff and CDR/session JSON into pricing-engine input."""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime, time
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any, TypeGuard, TypeVar

from billing.pricing.errors import SessionInputError, TariffError
from billing.pricing.model import (
    ZERO,
    ChargingPeriodInput,
    DayOfWeek,
    DimensionType,
    PeriodKind,
    PriceComponent,
    PriceLimit,
    ReservationRestriction,
    Restrictions,
    SessionInput,
    Tariff,
    TariffElement,
    TariffType,
    TaxIncluded,
    as_timedelta,
    exact_seconds,
)

VERSIONS = ("2.1.1", "2.2.1", "2.3.0")

_TIME_RE = re.compile(r"([01][0-9]|2[0-3]):[0-5][0-9]")
_DATE_RE = re.compile(r"[12][0-9]{3}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])")
_SECONDS_PER_HOUR = Decimal(3600)

_E = TypeVar("_E", bound=StrEnum)


# --- tariffs -------------------------------------------------------------------------------------


def tariff_from_ocpi(data: Mapping[str, Any], version: str) -> Tariff:
    """Normalize a Tariff object of the given OCPI version; raises TariffError on bad input."""
    if version not in VERSIONS:
        raise TariffError("version", f"unsupported OCPI version {version!r}")
    if not isinstance(data, Mapping):
        raise TariffError("tariff", "must be a JSON object")
    lenient = version == "2.3.0"  # 2.3.0 peers may send values newer than this code knows
    currency = data.get("currency")
    if not isinstance(currency, str) or not re.fullmatch(r"[A-Za-z]{3}", currency):
        raise TariffError("currency", "must be a three-letter ISO 4217 code")
    elements = data.get("elements")
    if not isinstance(elements, list) or not elements:
        raise TariffError("elements", "must be a non-empty list")
    min_price, max_price = _price_limits(data, version)
    tariff_id = data.get("id")
    return Tariff(
        currency=currency.upper(),
        elements=tuple(_element(e, f"elements[{i}]", lenient) for i, e in enumerate(elements)),
        min_price=min_price,
        max_price=max_price,
        tax_included=_tax_included(data, version),
        id=tariff_id if isinstance(tariff_id, str) else None,
        type=_tariff_type(data.get("type"), lenient),
        start_date_time=_optional(data, "start_date_time", _datetime, TariffError),
        end_date_time=_optional(data, "end_date_time", _datetime, TariffError),
    )


def _element(data: Any, path: str, lenient: bool) -> TariffElement:
    if not isinstance(data, Mapping):
        raise TariffError(path, "must be a JSON object")
    components = data.get("price_components")
    if not isinstance(components, list) or not components:
        raise TariffError(f"{path}.price_components", "must be a non-empty list")
    parsed = (
        _component(c, f"{path}.price_components[{i}]", lenient) for i, c in enumerate(components)
    )
    restrictions = data.get("restrictions")
    return TariffElement(
        price_components=tuple(c for c in parsed if c is not None),
        restrictions=None
        if restrictions is None
        else _restrictions(restrictions, f"{path}.restrictions"),
    )


def _component(data: Any, path: str, lenient: bool) -> PriceComponent | None:
    """Parse a price component; None for a 2.3.0 dimension this engine cannot price."""
    if not isinstance(data, Mapping):
        raise TariffError(path, "must be a JSON object")
    raw_type = data.get("type")
    if lenient and isinstance(raw_type, str) and raw_type not in DimensionType.__members__:
        return None
    kind = _enum(DimensionType, raw_type, f"{path}.type")
    price = _number(data.get("price"), f"{path}.price", TariffError)
    if price < 0:
        raise TariffError(f"{path}.price", "must not be negative")
    vat = _optional(data, "vat", _number, TariffError, path)
    if vat is not None and vat < 0:
        raise TariffError(f"{path}.vat", "must not be negative")
    step_size = data.get("step_size")
    if not _is_int(step_size) or step_size < 0:
        raise TariffError(f"{path}.step_size", "must be a non-negative integer")
    return PriceComponent(
        type=kind,
        price=price,
        vat=vat,
        step_size=step_size,
    )


def _restrictions(data: Any, path: str) -> Restrictions:
    if not isinstance(data, Mapping):
        raise TariffError(path, "must be a JSON object")

    def number(key: str) -> Decimal | None:
        value = _optional(data, key, _number, TariffError, path)
        if value is not None and value < 0:
            raise TariffError(f"{path}.{key}", "must not be negative")
        return value

    def seconds(key: str) -> int | None:
        value = data.get(key)
        if value is None:
            return None
        if not _is_int(value) or value < 0:
            raise TariffError(f"{path}.{key}", "must be a non-negative integer (seconds)")
        return int(value)

    days = data.get("day_of_week") or []
    if not isinstance(days, list):
        raise TariffError(f"{path}.day_of_week", "must be a list")
    reservation = data.get("reservation")
    restrictions = Restrictions(
        start_time=_optional(data, "start_time", _clock, TariffError, path),
        end_time=_optional(data, "end_time", _clock, TariffError, path),
        start_date=_optional(data, "start_date", _date, TariffError, path),
        end_date=_optional(data, "end_date", _date, TariffError, path),
        min_kwh=number("min_kwh"),
        max_kwh=number("max_kwh"),
        min_current=number("min_current"),
        max_current=number("max_current"),
        min_power=number("min_power"),
        max_power=number("max_power"),
        min_duration=seconds("min_duration"),
        max_duration=seconds("max_duration"),
        day_of_week=frozenset(
            _enum(DayOfWeek, d, f"{path}.day_of_week[{i}]") for i, d in enumerate(days)
        ),
        reservation=None
        if reservation is None
        else _enum(ReservationRestriction, reservation, f"{path}.reservation"),
    )
    _check_ranges(restrictions, path)
    return restrictions


def _check_ranges(r: Restrictions, path: str) -> None:
    pairs: tuple[tuple[str, Any, Any], ...] = (
        ("kwh", r.min_kwh, r.max_kwh),
        ("current", r.min_current, r.max_current),
        ("power", r.min_power, r.max_power),
        ("duration", r.min_duration, r.max_duration),
        ("date", r.start_date, r.end_date),
    )
    for name, low, high in pairs:
        if low is not None and high is not None and high < low:
            prefix = "end" if name == "date" else "max"
            raise TariffError(f"{path}.{prefix}_{name}", "is before its lower bound")


def _price_limits(
    data: Mapping[str, Any], version: str
) -> tuple[PriceLimit | None, PriceLimit | None]:
    if version == "2.1.1":
        return None, None
    low = _price_limit(data.get("min_price"), "min_price", version)
    high = _price_limit(data.get("max_price"), "max_price", version)
    if low is not None and high is not None:
        if high.excl_tax < low.excl_tax:
            raise TariffError("max_price", "is lower than min_price")
        if high.incl_tax is not None and low.incl_tax is not None and high.incl_tax < low.incl_tax:
            raise TariffError("max_price", "is lower than min_price")
    return low, high


def _price_limit(data: Any, path: str, version: str) -> PriceLimit | None:
    if data is None:
        return None
    if not isinstance(data, Mapping):
        raise TariffError(path, "must be a JSON object")
    excl_key, incl_key = (
        ("excl_vat", "incl_vat") if version == "2.2.1" else ("before_taxes", "after_taxes")
    )
    excl = _number(data.get(excl_key), f"{path}.{excl_key}", TariffError)
    incl = _optional(data, incl_key, _number, TariffError, path)
    for key, value in ((excl_key, excl), (incl_key, incl)):
        if value is not None and value < 0:
            raise TariffError(f"{path}.{key}", "must not be negative")
    return PriceLimit(excl, incl)


def _tax_included(data: Mapping[str, Any], version: str) -> TaxIncluded:
    # Before 2.3.0 prices always excluded VAT. The 2.3.0 spec's own CDR example omits the field,
    # so a missing value falls back to that same meaning.
    if version != "2.3.0" or data.get("tax_included") is None:
        return TaxIncluded.NO
    return _enum(TaxIncluded, data["tax_included"], "tax_included")


def _tariff_type(value: Any, lenient: bool) -> TariffType | None:
    known = isinstance(value, str) and value in TariffType.__members__
    if value is None or (lenient and not known):
        return None  # the type does not change prices, so a newer value is harmless
    return _enum(TariffType, value, "type")


# --- CDRs and sessions ---------------------------------------------------------------------------


def session_from_ocpi_cdr(cdr: Mapping[str, Any], *, end: datetime | None = None) -> SessionInput:
    """Build engine input from the charging periods of a CDR or Session (any version).

    Durations come from the TIME / PARKING_TIME / RESERVATION_TIME volumes; within one OCPI
    period they are laid out as reservation, then charging, then parking. A period without any
    time dimension lasts until the next period starts (or the session ends, or `end`), and counts
    as charging when it has energy and as parking otherwise.
    """
    if not isinstance(cdr, Mapping):
        raise SessionInputError("cdr", "must be a JSON object")
    start = _first_datetime(cdr, ("start_date_time", "start_datetime"))
    session_end = end or _first_datetime(cdr, ("end_date_time", "stop_date_time", "end_datetime"))
    raw_periods = cdr.get("charging_periods") or []
    if not isinstance(raw_periods, list):
        raise SessionInputError("charging_periods", "must be a list")
    starts = [_period_start(p, f"charging_periods[{i}]") for i, p in enumerate(raw_periods)]
    periods: list[ChargingPeriodInput] = []
    for i, raw in enumerate(raw_periods):
        next_start = starts[i + 1] if i + 1 < len(starts) else session_end
        periods.extend(_periods_from_ocpi(raw, starts[i], next_start, f"charging_periods[{i}]"))
    return SessionInput(periods=tuple(periods), start=start, end=session_end)


def _period_start(raw: Any, path: str) -> datetime:
    if not isinstance(raw, Mapping):
        raise SessionInputError(path, "must be a JSON object")
    return _datetime(raw.get("start_date_time"), f"{path}.start_date_time", SessionInputError)


def _periods_from_ocpi(
    raw: Mapping[str, Any], start: datetime, next_start: datetime | None, path: str
) -> list[ChargingPeriodInput]:
    volumes = _dimension_volumes(raw.get("dimensions"), f"{path}.dimensions")
    energy = volumes.get("ENERGY")
    if energy is None:
        energy = volumes.get("ENERGY_IMPORT", ZERO) - volumes.get("ENERGY_EXPORT", ZERO)
    current = volumes.get("MAX_CURRENT", volumes.get("CURRENT"))
    power = volumes.get("MAX_POWER", volumes.get("POWER"))
    stretches = [
        (kind, volumes[key] * _SECONDS_PER_HOUR)
        for kind, key in (
            (PeriodKind.RESERVATION, "RESERVATION_TIME"),
            (PeriodKind.CHARGING, "TIME"),
            (PeriodKind.PARKING, "PARKING_TIME"),
        )
        if key in volumes
    ]
    if not stretches:
        if next_start is None:
            raise SessionInputError(path, "has no time dimension and the session has no end")
        seconds = exact_seconds(next_start - start)
        if seconds < 0:
            raise SessionInputError(path, "starts after the next period or the session end")
        kind = PeriodKind.CHARGING if energy else PeriodKind.PARKING
        stretches = [(kind, seconds)]
    # Energy, current and power belong to the charging stretch, or the last one if none charges.
    kinds = [kind for kind, _ in stretches]
    owner = kinds.index(PeriodKind.CHARGING) if PeriodKind.CHARGING in kinds else len(kinds) - 1
    periods = []
    offset = ZERO
    for i, (kind, seconds) in enumerate(stretches):
        periods.append(
            ChargingPeriodInput(
                start=start + as_timedelta(offset),
                seconds=seconds,
                kind=kind,
                energy=energy if i == owner else ZERO,
                max_current=current if i == owner else None,
                max_power=power if i == owner else None,
            )
        )
        offset += seconds
    return periods


def _dimension_volumes(data: Any, path: str) -> dict[str, Decimal]:
    if not isinstance(data, list):
        raise SessionInputError(path, "must be a list")
    volumes: dict[str, Decimal] = {}
    for i, dim in enumerate(data):
        if not isinstance(dim, Mapping) or not isinstance(dim.get("type"), str):
            raise SessionInputError(f"{path}[{i}]", "must be an object with a type")
        volume = _number(dim.get("volume"), f"{path}[{i}].volume", SessionInputError)
        if dim["type"] in ("TIME", "PARKING_TIME", "RESERVATION_TIME") and volume < 0:
            raise SessionInputError(f"{path}[{i}].volume", "must not be negative")
        volumes[dim["type"]] = volume
    return volumes


def _first_datetime(data: Mapping[str, Any], keys: tuple[str, ...]) -> datetime | None:
    for key in keys:
        if data.get(key) is not None:
            return _datetime(data[key], key, SessionInputError)
    return None


# --- scalar values -------------------------------------------------------------------------------

_Error = type[TariffError] | type[SessionInputError]
_T = TypeVar("_T")


def _optional(
    data: Mapping[str, Any],
    key: str,
    parse: Callable[[Any, str, _Error], _T],
    error: _Error,
    path: str = "",
) -> _T | None:
    value = data.get(key)
    if value is None:
        return None
    return parse(value, f"{path}.{key}" if path else key, error)


def _number(value: Any, path: str, error: _Error) -> Decimal:
    """A JSON number as an exact Decimal (floats go through str to keep their short form)."""
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        raise error(path, "must be a number")
    if isinstance(value, float) and not math.isfinite(value):
        raise error(path, "must be a finite number")
    try:
        number = value if isinstance(value, Decimal) else Decimal(str(value))
    except InvalidOperation as exc:  # pragma: no cover - str() of int/float always parses
        raise error(path, "must be a number") from exc
    if not number.is_finite():
        raise error(path, "must be a finite number")
    return number


def _is_int(value: Any) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def _clock(value: Any, path: str, error: _Error) -> time:
    if not isinstance(value, str) or not _TIME_RE.fullmatch(value):
        raise error(path, "must be a 24h time like 08:30")
    return time(int(value[:2]), int(value[3:]))


def _date(value: Any, path: str, error: _Error) -> date:
    if not isinstance(value, str) or not _DATE_RE.fullmatch(value):
        raise error(path, "must be a date like 2024-12-31")
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise error(path, "is not a calendar date") from exc


def _datetime(value: Any, path: str, error: _Error) -> datetime:
    """An OCPI DateTime; a value without a zone is UTC, as OCPI timestamps always are."""
    if not isinstance(value, str):
        raise error(path, "must be an ISO 8601 date-time string")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise error(path, "must be an ISO 8601 date-time string") from exc
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def _enum(enum: type[_E], value: Any, path: str) -> _E:
    try:
        return enum(value)
    except ValueError as exc:
        allowed = ", ".join(member.value for member in enum)
        raise TariffError(path, f"must be one of {allowed}, not {value!r}") from exc
