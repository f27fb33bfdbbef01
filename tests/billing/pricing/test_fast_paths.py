"""The engine's fast paths give exactly what the plain way of computing the same thing gives."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from decimal import Decimal
from typing import TypeVar
from zoneinfo import ZoneInfo

import pytest
from hypothesis import assume, example, given, settings
from hypothesis import strategies as st

from billing.pricing import (
    ChargingPeriodInput,
    DayOfWeek,
    Money,
    PricedPeriod,
    PricingResult,
    Restrictions,
    SessionInputError,
    price_session,
)
from billing.pricing.engine import _compile, _local_cuts, _Moment, _Rule
from billing.pricing.model import as_timedelta, exact_seconds, slot_builder
from tests.billing.pricing.helpers import at, charging, component, element, session, tariff

SETTINGS = settings(max_examples=200, deadline=None, database=None)
BERLIN = "Europe/Berlin"

# --- slot_builder --------------------------------------------------------------------------------


def test_slot_builder_builds_an_object_equal_to_the_classes_own() -> None:
    build = slot_builder(Money)
    built = build(Decimal("1.00"), Decimal("1.21"), ())
    plain = Money(Decimal("1.00"), Decimal("1.21"))
    assert (type(built), built, hash(built), repr(built)) == (
        Money,
        plain,
        hash(plain),
        repr(plain),
    )


def test_slot_builder_accepts_keywords() -> None:
    built = slot_builder(Money)(excl_tax=Decimal(1), incl_tax=Decimal(2), taxes=())
    assert built == Money(Decimal(1), Decimal(2))


def test_slot_builder_requires_every_field_even_those_with_defaults() -> None:
    with pytest.raises(TypeError):
        slot_builder(Money)(Decimal(1), Decimal(2))


def test_slot_builder_objects_stay_frozen() -> None:
    built = slot_builder(Money)(Decimal(1), Decimal(2), ())
    with pytest.raises(AttributeError):
        built.excl_tax = Decimal(3)  # type: ignore[misc]


@dataclass
class _Mutable:
    value: int


@dataclass(frozen=True, slots=True)
class _Checked:
    value: int

    def __post_init__(self) -> None:
        if self.value < 0:
            raise ValueError("negative")


@pytest.mark.parametrize("cls", [_Mutable, _Checked, int])
def test_slot_builder_refuses_classes_it_cannot_build_faithfully(cls: type) -> None:
    with pytest.raises(TypeError):
        slot_builder(cls)


# --- compiled restriction tests ------------------------------------------------------------------

_DAYS = list(DayOfWeek)
_CLOCK = st.builds(time, st.integers(0, 23), st.sampled_from([0, 15, 30, 45]))
_AMOUNT = st.integers(0, 80).map(Decimal)
_V = TypeVar("_V")


@st.composite
def _restrictions(draw: st.DrawFn) -> Restrictions:
    def maybe(strategy: st.SearchStrategy[_V]) -> _V | None:
        return draw(st.none() | strategy)

    first = draw(st.dates(date(2024, 1, 1), date(2024, 12, 31)))
    return Restrictions(
        start_time=maybe(_CLOCK),
        end_time=maybe(_CLOCK),
        start_date=maybe(st.just(first)),
        end_date=maybe(st.just(first + timedelta(days=draw(st.integers(0, 60))))),
        min_kwh=maybe(_AMOUNT),
        max_kwh=maybe(_AMOUNT),
        min_current=maybe(_AMOUNT),
        max_current=maybe(_AMOUNT),
        min_power=maybe(_AMOUNT),
        max_power=maybe(_AMOUNT),
        min_duration=maybe(st.integers(0, 7200)),
        max_duration=maybe(st.integers(0, 7200)),
        day_of_week=frozenset(draw(st.sets(st.sampled_from(_DAYS), max_size=3))),
    )


@st.composite
def _moments(draw: st.DrawFn) -> _Moment:
    moment = _Moment()
    moment.date = draw(st.dates(date(2024, 1, 1), date(2024, 12, 31)))
    moment.weekday = moment.date.weekday()
    # Often exactly on a quarter hour, where windows start and end.
    moment.minute = draw(st.integers(0, 95).map(lambda q: q * 15) | st.integers(0, 1439))
    moment.kwh = draw(_AMOUNT)
    moment.elapsed = Decimal(draw(st.integers(0, 7200)))
    moment.current = draw(st.none() | _AMOUNT)
    moment.power = draw(st.none() | _AMOUNT)
    return moment


def _plainly_matches(r: Restrictions, m: _Moment) -> bool:
    """Every restriction checked one by one, as the OCPI spec words them."""
    if r.day_of_week and _DAYS[m.weekday] not in r.day_of_week:
        return False
    if r.start_time is not None or r.end_time is not None:
        start = 0 if r.start_time is None else r.start_time.hour * 60 + r.start_time.minute
        end = 0 if r.end_time is None else r.end_time.hour * 60 + r.end_time.minute
        end = end or 1440
        whole_day = start == end or (start == 0 and end == 1440)
        inside = start <= m.minute < end if start < end else m.minute >= start or m.minute < end
        if not whole_day and not inside:
            return False
    if r.start_date is not None and m.date < r.start_date:
        return False
    if r.end_date is not None and m.date >= r.end_date:
        return False
    bounds = (
        (m.kwh, r.min_kwh, r.max_kwh),
        (m.elapsed, r.min_duration, r.max_duration),
        (m.current, r.min_current, r.max_current),
        (m.power, r.min_power, r.max_power),
    )
    for value, low, high in bounds:
        if low is None and high is None:
            continue
        if value is None or (low is not None and value < low):
            return False
        if high is not None and value >= high:
            return False
    return True


def _moment_at(day: date, minute: int) -> _Moment:
    moment = _Moment()
    moment.date, moment.weekday, moment.minute = day, day.weekday(), minute
    return moment


_NIGHT = Restrictions(start_time=time(22), end_time=time(6))
_DAY = Restrictions(start_time=time(9), end_time=time(17))


@SETTINGS
@given(_restrictions(), _moments())
@example(_NIGHT, _moment_at(date(2024, 1, 8), 22 * 60))  # the first minute of a wrapping window
@example(_NIGHT, _moment_at(date(2024, 1, 8), 6 * 60))  # the first minute after it
@example(_DAY, _moment_at(date(2024, 1, 8), 17 * 60))  # the end of a window is exclusive
def test_compiled_rule_matches_exactly_when_every_restriction_holds(
    restrictions: Restrictions, moment: _Moment
) -> None:
    assert _Rule(restrictions).matches(moment) is _plainly_matches(restrictions, moment)


# --- local time cuts -----------------------------------------------------------------------------

_ZONES = st.sampled_from(["Europe/Amsterdam", "America/New_York", "Australia/Lord_Howe", "UTC"])
_YEAR_START = datetime(2024, 1, 1, tzinfo=UTC)
# Starts and lengths often in whole quarter hours, so cuts fall on a period's very edges.
_STARTS = st.integers(0, 366 * 96).map(lambda q: _YEAR_START + timedelta(minutes=15 * q)) | (
    st.integers(0, 366 * 86400 * 1_000_000).map(lambda us: _YEAR_START + timedelta(microseconds=us))
)
_LENGTHS = st.integers(0, 96).map(lambda q: Decimal(900 * q)) | st.integers(
    0, 86400 * 1_000_000
).map(lambda us: Decimal(us).scaleb(-6))


def _naive_wall_cuts(
    minutes: list[int], zone_name: str, start: datetime, length: Decimal
) -> list[Decimal] | None:
    """Marks between two naive local times; None when the UTC offset changes in between."""
    zone = ZoneInfo(zone_name)
    end = start + as_timedelta(length)
    local_start, local_end = start.astimezone(zone), end.astimezone(zone)
    if local_start.utcoffset() != local_end.utcoffset():
        return None
    first, last = local_start.replace(tzinfo=None), local_end.replace(tzinfo=None)
    cuts = []
    midnight = datetime.combine(first.date(), time())
    while midnight < last:
        for minute in minutes:
            wall = midnight + timedelta(minutes=minute)
            if first < wall < last:
                cuts.append(exact_seconds(wall - first))
        midnight += timedelta(days=1)
    return cuts


@SETTINGS
@example("UTC", datetime(2024, 1, 8, 9, tzinfo=UTC), Decimal(8 * 3600), (time(9), time(17)))
@given(
    _ZONES,
    _STARTS,
    _LENGTHS,
    st.tuples(_CLOCK, _CLOCK).filter(lambda pair: pair[0] != pair[1]),
)
def test_wall_clock_cuts_in_microseconds_equal_cuts_found_with_naive_datetimes(
    zone: str, start: datetime, length: Decimal, window: tuple[time, time]
) -> None:
    plan = _compile(
        tariff(
            element(
                component("TIME", "1.00"),
                start_time=f"{window[0]:%H:%M}",
                end_time=f"{window[1]:%H:%M}",
            )
        )
    )
    minutes = [int(mark.total_seconds()) // 60 for mark in plan.day_marks]
    expected = _naive_wall_cuts(minutes, zone, start, length)
    assume(expected is not None)
    found = _local_cuts(ZoneInfo(zone), plan, start, length)
    assert [str(cut) for cut in found] == [str(cut) for cut in expected or []]


# --- results -------------------------------------------------------------------------------------


def test_total_of_a_single_cost_category_is_that_sub_total() -> None:
    t = tariff(element(component("ENERGY", "0.30", vat="20")))
    result = price_session(t, [charging(at("2024-01-08T10:00"), 60, 12.5)], BERLIN)
    assert (
        result.total_cost
        == result.total_energy_cost
        == Money(Decimal("3.75"), Decimal("4.50"), result.total_energy_cost.taxes)
    )


def test_min_price_raises_the_total_above_its_only_sub_total() -> None:
    t = tariff(
        element(component("ENERGY", "0.30", vat="20")),
        min_price={"excl_vat": Decimal("5.00"), "incl_vat": Decimal("6.00")},
    )
    result = price_session(t, [charging(at("2024-01-08T10:00"), 60, 12.5)], BERLIN)
    assert (result.total_cost.excl_tax, result.total_energy_cost.excl_tax) == (
        Decimal("5.00"),
        Decimal("3.75"),
    )


def test_hours_without_parking_or_reservation_are_zero_with_four_decimals() -> None:
    t = tariff(element(component("TIME", "1.00")))
    result = price_session(t, session(at("2024-01-08T10:00"), ("charge", 30)), BERLIN)
    assert (str(result.total_parking_time), str(result.total_reservation_time)) == (
        "0.0000",
        "0.0000",
    )


def test_results_are_built_as_their_own_classes() -> None:
    t = tariff(element(component("FLAT", "1.00", vat="20"), component("TIME", "2.00", vat="20")))
    result = price_session(t, session(at("2024-01-08T10:00"), ("charge", 30)), BERLIN)
    assert (type(result), type(result.periods[0]), type(result.total_cost)) == (
        PricingResult,
        PricedPeriod,
        Money,
    )


class _Floating(tzinfo):
    """A tzinfo that does not know its offset: datetimes using it count as naive."""

    def utcoffset(self, dt: datetime | None) -> timedelta | None:
        return None

    def dst(self, dt: datetime | None) -> timedelta | None:
        return None

    def tzname(self, dt: datetime | None) -> str | None:
        return None


def test_start_whose_zone_has_no_offset_is_rejected_as_naive() -> None:
    t = tariff(element(component("TIME", "1.00")))
    floating = ChargingPeriodInput(
        start=datetime(2024, 1, 8, 10, tzinfo=_Floating()), seconds=Decimal(60)
    )
    with pytest.raises(SessionInputError, match="timezone-aware"):
        price_session(t, [floating], BERLIN)
