"""Properties of the pricing engine that must hold for any tariff and session (hypothesis)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from billing.pricing import (
    ChargingPeriodInput,
    DayOfWeek,
    DimensionType,
    PeriodKind,
    PriceComponent,
    PriceLimit,
    PricingResult,
    Restrictions,
    Tariff,
    TariffElement,
    TaxIncluded,
    price_session,
)

PROPERTY_SETTINGS = settings(max_examples=50, deadline=None, database=None)

ZONES = st.sampled_from(
    ["Europe/Amsterdam", "America/New_York", "Australia/Lord_Howe", "Asia/Kolkata", "UTC"]
)
PRICES = st.integers(0, 300).map(lambda cents: Decimal(cents) / 100)
VATS = st.sampled_from([None, Decimal(0), Decimal(9), Decimal("20.5")])
KWH = st.integers(0, 60_000).map(lambda wh: Decimal(wh) / 1000)
POWER = st.integers(0, 150).map(Decimal)

# Random moments in 2024, or close to the Amsterdam / New York DST switches.
_DST_SWITCHES = [datetime(2024, 3, 31, 1, tzinfo=UTC), datetime(2024, 10, 27, 1, tzinfo=UTC)]
_DST_SWITCHES += [datetime(2024, 3, 10, 7, tzinfo=UTC), datetime(2024, 11, 3, 6, tzinfo=UTC)]
STARTS = st.one_of(
    st.integers(0, 365 * 86400).map(
        lambda s: datetime(2024, 1, 1, tzinfo=UTC) + timedelta(seconds=s)
    ),
    st.tuples(st.sampled_from(_DST_SWITCHES), st.integers(-6 * 3600, 2 * 3600)).map(
        lambda pair: pair[0] + timedelta(seconds=pair[1])
    ),
)


# --- tariffs -------------------------------------------------------------------------------------


@st.composite
def time_restrictions(draw: st.DrawFn) -> Restrictions | None:
    fields: dict[str, object] = {}
    clock = st.builds(time, st.integers(0, 23), st.sampled_from([0, 15, 30, 45]))
    if draw(st.booleans()):
        fields["start_time"] = draw(clock)
    if draw(st.booleans()):
        fields["end_time"] = draw(clock)
    if draw(st.booleans()):
        fields["day_of_week"] = frozenset(
            draw(st.sets(st.sampled_from(list(DayOfWeek)), min_size=1))
        )
    if draw(st.booleans()):
        fields["min_duration"] = draw(st.integers(0, 4 * 3600))
    if draw(st.booleans()):
        fields["max_duration"] = draw(st.integers(0, 6 * 3600))
    return Restrictions(**fields) if fields else None  # type: ignore[arg-type]


@st.composite
def energy_restrictions(draw: st.DrawFn, by: str) -> Restrictions | None:
    if draw(st.booleans()):
        return None
    if by == "kwh":
        return Restrictions(min_kwh=draw(st.none() | KWH), max_kwh=draw(st.none() | KWH))
    return Restrictions(min_power=draw(st.none() | POWER), max_power=draw(st.none() | POWER))


def _component(
    kind: DimensionType, steps: st.SearchStrategy[int]
) -> st.SearchStrategy[PriceComponent]:
    return st.builds(PriceComponent, st.just(kind), PRICES, VATS, steps)


TIME_COMPONENTS = st.one_of(
    _component(DimensionType.TIME, st.sampled_from([0, 1, 60, 300, 900])),
    _component(DimensionType.PARKING_TIME, st.sampled_from([0, 1, 60, 300, 900])),
    _component(DimensionType.FLAT, st.just(1)),
)


@st.composite
def time_tariffs(draw: st.DrawFn) -> Tariff:
    """Tariffs priced by time only, with local-time and duration restrictions."""
    elements = draw(
        st.lists(
            st.builds(
                TariffElement,
                st.lists(TIME_COMPONENTS, min_size=1, max_size=3).map(tuple),
                time_restrictions(),
            ),
            min_size=1,
            max_size=5,
        )
    )
    return Tariff(currency="EUR", elements=tuple(elements))


@st.composite
def energy_tariffs(draw: st.DrawFn, *, single_step: bool = False) -> Tariff:
    """Tariffs priced by energy (+ FLAT), restricted by kWh or by power but not both."""
    by = draw(st.sampled_from(["kwh", "power"]))
    steps = st.sampled_from([0, 1, 100, 500]) if single_step else st.just(0)
    count = 1 if single_step else draw(st.integers(1, 4))
    elements = [
        TariffElement(
            (draw(_component(DimensionType.ENERGY, steps)),),
            None if single_step else draw(energy_restrictions(by)),
        )
        for _ in range(count)
    ]
    if draw(st.booleans()):
        elements.insert(0, TariffElement((draw(_component(DimensionType.FLAT, st.just(1))),)))
    return Tariff(currency="EUR", elements=tuple(elements))


@st.composite
def price_limits(draw: st.DrawFn) -> tuple[PriceLimit | None, PriceLimit | None]:
    def limit(low: Decimal) -> PriceLimit:
        excl = low + draw(PRICES) * 5
        incl = draw(st.none() | st.just(excl + draw(PRICES)))
        return PriceLimit(excl, incl)

    low = limit(Decimal(0)) if draw(st.booleans()) else None
    floor = Decimal(0) if low is None else max(low.excl_tax, low.incl_tax or Decimal(0))
    high = limit(floor) if draw(st.booleans()) else None
    return low, high


@st.composite
def any_tariffs(draw: st.DrawFn) -> Tariff:
    base = draw(st.one_of(time_tariffs(), energy_tariffs()))
    low, high = draw(price_limits())
    tax = draw(st.sampled_from(list(TaxIncluded)))
    return replace(base, min_price=low, max_price=high, tax_included=tax)


# --- sessions ------------------------------------------------------------------------------------


@st.composite
def sessions(
    draw: st.DrawFn, *, energy: bool = True, parking: bool = True
) -> list[ChargingPeriodInput]:
    moment = draw(STARTS)
    periods = []
    for _ in range(draw(st.integers(1, 4))):
        charging = not parking or draw(st.booleans())
        seconds = draw(st.integers(60, 4 * 3600))
        periods.append(
            ChargingPeriodInput(
                start=moment,
                seconds=Decimal(seconds),
                kind=PeriodKind.CHARGING if charging else PeriodKind.PARKING,
                energy=draw(KWH) if charging and energy else Decimal(0),
                max_power=draw(POWER) if charging else None,
            )
        )
        moment += timedelta(seconds=seconds + draw(st.sampled_from([0, 0, 120])))
    return periods


def split(
    periods: list[ChargingPeriodInput], index: int, seconds: int, kwh: Decimal
) -> list[ChargingPeriodInput]:
    """The same session with period `index` cut after `seconds`, `kwh` going to the first half."""
    period = periods[index]
    first = replace(period, seconds=Decimal(seconds), energy=kwh)
    second = replace(
        period,
        start=period.start + timedelta(seconds=seconds),
        seconds=period.seconds - seconds,
        energy=period.energy - kwh,
    )
    return [*periods[:index], first, second, *periods[index + 1 :]]


def all_money(result: PricingResult) -> list[tuple[Decimal, Decimal]]:
    parts = [
        result.total_cost,
        result.total_fixed_cost,
        result.total_energy_cost,
        result.total_time_cost,
        result.total_parking_cost,
        result.total_reservation_cost,
    ]
    return [(m.excl_tax, m.incl_tax) for m in parts]


def _cut(
    draw: Callable[[st.SearchStrategy[int]], int], periods: list[ChargingPeriodInput]
) -> tuple[int, int, Decimal]:
    index = draw(st.integers(0, len(periods) - 1))
    period = periods[index]
    seconds = draw(st.integers(1, int(period.seconds) - 1))
    wh = int(period.energy * 1000)
    return index, seconds, Decimal(draw(st.integers(0, wh))) / 1000


# --- properties ---------------------------------------------------------------------------------


@PROPERTY_SETTINGS
@given(tariff=time_tariffs(), periods=sessions(energy=False), zone=ZONES, data=st.data())
def test_splitting_a_period_never_changes_the_total_under_time_tariffs(
    tariff: Tariff, periods: list[ChargingPeriodInput], zone: str, data: st.DataObject
) -> None:
    index, seconds, _ = _cut(data.draw, periods)

    whole = price_session(tariff, periods, zone)
    parts = price_session(tariff, split(periods, index, seconds, Decimal(0)), zone)

    assert all_money(parts) == all_money(whole)


@PROPERTY_SETTINGS
@given(tariff=energy_tariffs(), periods=sessions(parking=False), data=st.data())
def test_splitting_a_period_never_changes_the_total_under_energy_tariffs(
    tariff: Tariff, periods: list[ChargingPeriodInput], data: st.DataObject
) -> None:
    index, seconds, kwh = _cut(data.draw, periods)

    whole = price_session(tariff, periods, "Europe/Amsterdam")
    parts = price_session(tariff, split(periods, index, seconds, kwh), "Europe/Amsterdam")

    assert all_money(parts) == all_money(whole)
    assert parts.total_energy == whole.total_energy


@PROPERTY_SETTINGS
@given(
    tariff=st.one_of(energy_tariffs(), energy_tariffs(single_step=True)),
    periods=sessions(parking=False),
    extra=st.integers(1, 20_000).map(lambda wh: Decimal(wh) / 1000),
    data=st.data(),
)
def test_more_energy_never_costs_less_under_an_energy_tariff(
    tariff: Tariff, periods: list[ChargingPeriodInput], extra: Decimal, data: st.DataObject
) -> None:
    index = data.draw(st.integers(0, len(periods) - 1))
    more = list(periods)
    more[index] = replace(periods[index], energy=periods[index].energy + extra)

    before = price_session(tariff, periods, "Europe/Amsterdam").total_cost
    after = price_session(tariff, more, "Europe/Amsterdam").total_cost

    assert after.excl_tax >= before.excl_tax
    assert after.incl_tax >= before.incl_tax


@PROPERTY_SETTINGS
@given(tariff=any_tariffs(), periods=sessions(), zone=ZONES)
def test_total_always_lies_within_min_and_max_price(
    tariff: Tariff, periods: list[ChargingPeriodInput], zone: str
) -> None:
    total = price_session(tariff, periods, zone).total_cost

    for limit, inside in ((tariff.min_price, Decimal.__ge__), (tariff.max_price, Decimal.__le__)):
        if limit is None:
            continue
        assert inside(total.excl_tax, limit.excl_tax)
        if limit.incl_tax is not None:
            assert inside(total.incl_tax, limit.incl_tax)


@PROPERTY_SETTINGS
@given(tariff=any_tariffs(), periods=sessions(), zone=ZONES)
def test_incl_vat_is_never_below_excl_vat_and_tax_lines_balance(
    tariff: Tariff, periods: list[ChargingPeriodInput], zone: str
) -> None:
    result = price_session(tariff, periods, zone)

    for excl, incl in all_money(result):
        assert incl >= excl
    money = result.total_cost
    assert sum((line.amount for line in money.taxes), Decimal(0)) == money.incl_tax - money.excl_tax
