"""Version-independent tariff, session and result types of the pricing engine."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Any, TypeVar

ZERO = Decimal(0)

_T = TypeVar("_T")


def exact_seconds(delta: timedelta) -> Decimal:
    """A timedelta as exact Decimal seconds (durations in this package are Decimal seconds)."""
    return Decimal(delta.days * 86400 + delta.seconds) + Decimal(delta.microseconds).scaleb(-6)


def as_timedelta(seconds: Decimal) -> timedelta:
    """Decimal seconds as a timedelta, truncated to the microsecond."""
    return timedelta(microseconds=int(seconds.scaleb(6)))


class DimensionType(StrEnum):
    """What a price component charges for."""

    FLAT = "FLAT"
    ENERGY = "ENERGY"
    TIME = "TIME"
    PARKING_TIME = "PARKING_TIME"


class DayOfWeek(StrEnum):
    """Days in `datetime.weekday()` order, so `list(DayOfWeek)[d.weekday()]` is d's day."""

    MONDAY = "MONDAY"
    TUESDAY = "TUESDAY"
    WEDNESDAY = "WEDNESDAY"
    THURSDAY = "THURSDAY"
    FRIDAY = "FRIDAY"
    SATURDAY = "SATURDAY"
    SUNDAY = "SUNDAY"


class ReservationRestriction(StrEnum):
    """Marks an element as pricing a reservation, or a reservation that expired unused."""

    RESERVATION = "RESERVATION"
    RESERVATION_EXPIRES = "RESERVATION_EXPIRES"


class TaxIncluded(StrEnum):
    """Whether tariff prices already contain tax (2.3.0); older versions are always NO."""

    YES = "YES"
    NO = "NO"
    NOT_APPLICABLE = "N/A"


class TariffType(StrEnum):
    """Which sessions a tariff is meant for; informative only for pricing."""

    AD_HOC_PAYMENT = "AD_HOC_PAYMENT"
    PROFILE_CHEAP = "PROFILE_CHEAP"
    PROFILE_FAST = "PROFILE_FAST"
    PROFILE_GREEN = "PROFILE_GREEN"
    REGULAR = "REGULAR"


class PeriodKind(StrEnum):
    """What the vehicle was doing during a charging period."""

    CHARGING = "CHARGING"
    PARKING = "PARKING"
    RESERVATION = "RESERVATION"


class CostCategory(StrEnum):
    """The CDR sub-total a priced component is counted in."""

    FIXED = "FIXED"
    ENERGY = "ENERGY"
    TIME = "TIME"
    PARKING = "PARKING"
    RESERVATION = "RESERVATION"


@dataclass(frozen=True, slots=True)
class PriceComponent:
    """Price per unit of one dimension: per kWh, per hour, or once (FLAT)."""

    type: DimensionType
    price: Decimal
    vat: Decimal | None = None  # percentage; None means no VAT applies
    step_size: int = 1  # Wh for ENERGY, seconds for TIME/PARKING_TIME; 0 = no rounding up


@dataclass(frozen=True, slots=True)
class Restrictions:
    """Conditions under which an element applies; all set fields must hold at once."""

    start_time: time | None = None  # local wall-clock time, inclusive
    end_time: time | None = None  # local, exclusive; 00:00 means end of day; may wrap midnight
    start_date: date | None = None  # local, inclusive
    end_date: date | None = None  # local, exclusive
    min_kwh: Decimal | None = None  # energy charged so far in the session, inclusive
    max_kwh: Decimal | None = None  # exclusive
    min_current: Decimal | None = None  # A over all phases, inclusive
    max_current: Decimal | None = None  # exclusive
    min_power: Decimal | None = None  # kW, inclusive
    max_power: Decimal | None = None  # exclusive
    min_duration: int | None = None  # seconds since the session started, inclusive
    max_duration: int | None = None  # exclusive
    day_of_week: frozenset[DayOfWeek] = frozenset()  # empty means every day
    reservation: ReservationRestriction | None = None


@dataclass(frozen=True, slots=True)
class TariffElement:
    """Price components that share one set of restrictions."""

    price_components: tuple[PriceComponent, ...]
    restrictions: Restrictions | None = None


@dataclass(frozen=True, slots=True)
class PriceLimit:
    """A minimum or maximum session price, before and (optionally) after tax."""

    excl_tax: Decimal
    incl_tax: Decimal | None = None


@dataclass(frozen=True, slots=True)
class Tariff:
    """A tariff normalized from any supported OCPI version."""

    currency: str
    elements: tuple[TariffElement, ...]
    min_price: PriceLimit | None = None
    max_price: PriceLimit | None = None
    tax_included: TaxIncluded = TaxIncluded.NO
    id: str | None = None
    type: TariffType | None = None
    start_date_time: datetime | None = None
    end_date_time: datetime | None = None


@dataclass(frozen=True, slots=True)
class ChargingPeriodInput:
    """A stretch of the session in which the vehicle did one kind of thing.

    `start` must be timezone-aware; `seconds` is the length of the stretch. Energy is assumed to
    flow evenly over the stretch when a kWh restriction has to be located inside it. A missing
    current or power counts as 0 for parking and reservation, and as unknown while charging.
    """

    start: datetime
    seconds: Decimal
    kind: PeriodKind = PeriodKind.CHARGING
    energy: Decimal = ZERO  # kWh
    max_current: Decimal | None = None  # A, summed over phases
    max_power: Decimal | None = None  # kW


@dataclass(frozen=True, slots=True)
class SessionInput:
    """The charging periods of one session or CDR, ready for `price_session`."""

    periods: tuple[ChargingPeriodInput, ...]
    start: datetime | None = None
    end: datetime | None = None


@dataclass(frozen=True, slots=True)
class TaxLine:
    """One tax amount; `percentage` is None when the rate is unknown."""

    name: str
    percentage: Decimal | None
    amount: Decimal


@dataclass(frozen=True, slots=True)
class Money:
    """An amount before and after tax, with the tax lines making up the difference."""

    excl_tax: Decimal
    incl_tax: Decimal
    taxes: tuple[TaxLine, ...] = ()


@dataclass(frozen=True, slots=True)
class PricedPeriod:
    """A charging period after splitting, with the element index that priced each dimension."""

    start: datetime  # in the time zone the input period was given in
    kind: PeriodKind
    seconds: Decimal
    energy: Decimal
    max_current: Decimal | None
    max_power: Decimal | None
    energy_element: int | None  # element whose ENERGY component priced `energy`
    time_element: int | None  # element whose TIME / PARKING_TIME component priced `seconds`
    flat_element: int | None  # set on the period in which a FLAT fee was charged

    @property
    def dimensions(self) -> tuple[tuple[str, Decimal], ...]:
        """The period as OCPI CdrDimension (type, volume) pairs, volumes in kWh / hours / A / kW."""
        hours = self.seconds / 3600
        if self.kind is PeriodKind.RESERVATION:
            return (("RESERVATION_TIME", hours),)
        charging = self.kind is PeriodKind.CHARGING
        dims = [("TIME" if charging else "PARKING_TIME", hours)]
        if charging or self.energy:
            dims.insert(0, ("ENERGY", self.energy))
        if self.max_current is not None:
            dims.append(("MAX_CURRENT", self.max_current))
        if self.max_power is not None:
            dims.append(("MAX_POWER", self.max_power))
        return tuple(dims)


@dataclass(frozen=True, slots=True)
class ComponentCharge:
    """What one price component charged over the whole session (exact, unrounded amounts)."""

    element_index: int
    component_index: int
    type: DimensionType
    category: CostCategory
    volume: Decimal  # consumed: kWh, hours, or 1 for FLAT
    billed_volume: Decimal  # after step_size rounding
    price: Decimal
    vat: Decimal | None
    amount_excl_tax: Decimal
    amount_incl_tax: Decimal


@dataclass(frozen=True, slots=True)
class PricingResult:
    """Totals (rounded), split periods and per-component breakdown of a priced session."""

    currency: str
    total_cost: Money
    total_fixed_cost: Money
    total_energy_cost: Money
    total_time_cost: Money
    total_parking_cost: Money
    total_reservation_cost: Money
    total_energy: Decimal  # kWh
    total_time: Decimal  # hours charging + parking (reservation time excluded)
    total_parking_time: Decimal  # hours
    total_reservation_time: Decimal  # hours
    periods: tuple[PricedPeriod, ...]
    components: tuple[ComponentCharge, ...]
    min_price_applied: bool = False
    max_price_applied: bool = False

    @property
    def categories(self) -> frozenset[CostCategory]:
        """Cost categories in which at least one price component was used."""
        return frozenset(c.category for c in self.components)


def slot_builder(cls: type[_T]) -> Callable[..., _T]:
    """A faster constructor for a frozen, slotted dataclass that has no __post_init__.

    A frozen dataclass's own __init__ stores every field through `object.__setattr__`, which
    costs about as much again as the rest of building the object; the pricing engine builds a
    dozen result objects per CDR. The builder takes the same arguments, positional or keyword,
    but applies no defaults (every field must be given), and writes the slots directly: the
    objects are exactly those the class would build, with the same equality, hash and repr.
    """
    params = getattr(cls, "__dataclass_params__", None)
    if params is None or not params.frozen or not hasattr(cls, "__slots__"):
        raise TypeError(f"{cls.__name__} is not a frozen, slotted dataclass")
    if hasattr(cls, "__post_init__"):
        raise TypeError(f"{cls.__name__} has a __post_init__ the builder would skip")
    names = [field.name for field in fields(cls)]  # type: ignore[arg-type]
    lines = [f"def build({', '.join(names)}):", "    obj = new(cls)"]
    lines += [f"    set_{name}(obj, {name})" for name in names]
    lines.append("    return obj")
    namespace: dict[str, Any] = {"new": object.__new__, "cls": cls}
    namespace.update({f"set_{name}": getattr(cls, name).__set__ for name in names})
    # Generated source, as dataclasses does for __init__ (built only from the field names).
    exec("\n".join(lines), namespace)
    build: Callable[..., _T] = namespace["build"]
    build.__qualname__ = build.__name__ = f"build_{cls.__name__}"
    return build
