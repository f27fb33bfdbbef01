"""The tariff rules one at a time: element choice, restrictions, splitting, step size, limits."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from billing.pricing import (
    ChargingPeriodInput,
    PeriodKind,
    SessionInputError,
    Tariff,
    price_session,
)
from tests.billing.pricing.helpers import (
    at,
    charging,
    component,
    cost,
    dec,
    element,
    pair,
    session,
    tariff,
)

BERLIN = "Europe/Berlin"
AMSTERDAM = "Europe/Amsterdam"


# --- which element prices a dimension -----------------------------------------------------------


def test_first_element_with_matching_restrictions_prices_each_dimension() -> None:
    t = tariff(
        element(component("TIME", "2.00"), max_power=10),
        element(component("ENERGY", "0.30")),
        element(component("TIME", "1.00"), component("ENERGY", "0.50")),
    )
    slow = price_session(t, [charging(at("2024-01-08T10:00"), 60, 5, power=5)], BERLIN)
    fast = price_session(t, [charging(at("2024-01-08T10:00"), 60, 5, power=20)], BERLIN)

    # Slow: TIME from element 0 (2.00), ENERGY from element 1 (5 * 0.30 = 1.50) -> 3.50.
    assert (slow.periods[0].time_element, slow.periods[0].energy_element) == (0, 1)
    assert cost(slow)[0] == dec("3.50")
    # Fast: element 0 fails max_power, TIME falls to element 2 (1.00); ENERGY still element 1.
    assert (fast.periods[0].time_element, fast.periods[0].energy_element) == (2, 1)
    assert cost(fast)[0] == dec("2.50")


def test_dimension_without_any_matching_element_is_free() -> None:
    t = tariff(element(component("PARKING_TIME", "6.00"), start_time="09:00", end_time="18:00"))

    result = price_session(t, session(at("2024-01-08T19:00"), ("park", 60)), BERLIN)

    assert cost(result) == (dec("0.00"), dec("0.00"))
    assert result.components == ()


def test_flat_fee_is_charged_once_per_session_however_many_periods() -> None:
    t = tariff(
        element(component("FLAT", "1.00"), component("ENERGY", "0.20"), max_kwh=5),
        element(component("FLAT", "3.00"), component("ENERGY", "0.10")),
    )
    periods = session(at("2024-01-08T10:00"), ("charge", 30, 4), ("charge", 30, 4), ("park", 10))

    result = price_session(t, periods, BERLIN)

    # FLAT from the first period (element 0) = 1.00; energy 5 * 0.20 + 3 * 0.10 = 1.30.
    assert pair(result.total_fixed_cost) == (dec("1.00"), dec("1.00"))
    assert cost(result)[0] == dec("2.30")
    assert [p.flat_element for p in result.periods].count(0) == 1


def test_flat_fee_of_an_element_that_starts_matching_later_is_charged_then() -> None:
    t = tariff(
        element(component("FLAT", "5.00"), min_duration=7200),  # idle fee after 2 h
        element(component("ENERGY", "0.30")),
    )
    short = price_session(t, session(at("2024-01-08T10:00"), ("charge", 90, 10)), BERLIN)
    long = price_session(
        t, session(at("2024-01-08T10:00"), ("charge", 90, 10), ("park", 60)), BERLIN
    )

    assert cost(short)[0] == dec("3.00")
    assert cost(long)[0] == dec("8.00")


# --- local time restrictions --------------------------------------------------------------------


def night_and_day_energy() -> Tariff:
    return tariff(
        element(component("ENERGY", "0.20"), start_time="22:00", end_time="06:00"),
        element(component("ENERGY", "0.30")),
    )


def test_time_window_wrapping_midnight_prices_the_night_hours() -> None:
    # 21:00-07:00 at 1 kWh/h: 22:00-06:00 is night (8 kWh * 0.20 = 1.60), 2 kWh by day (0.60).
    result = price_session(
        night_and_day_energy(),
        [charging(at("2024-01-10T21:00"), 600, 10)],
        BERLIN,
    )

    assert cost(result)[0] == dec("2.20")
    starts = [p.start.astimezone(UTC).strftime("%H:%M") for p in result.periods]
    assert starts == ["20:00", "21:00", "05:00"]  # split at local 22:00 and 06:00 (UTC+1)
    assert [p.energy for p in result.periods] == [1, 8, 1]


def test_end_time_midnight_means_until_the_end_of_the_day() -> None:
    t = tariff(
        element(component("TIME", "3.00"), start_time="20:00", end_time="00:00"),
        element(component("TIME", "1.00")),
    )

    # 23:00-01:00: one hour at 3.00 before midnight, one at 1.00 after.
    result = price_session(t, session(at("2024-01-08T23:00"), ("charge", 120)), BERLIN)

    assert cost(result)[0] == dec("4.00")


def test_spring_forward_shortens_the_local_night_window() -> None:
    # Amsterdam, 30/31 March 2024: 02:00 CET jumps to 03:00 CEST (01:00 UTC).
    # Charging 23:00 CET (22:00 UTC) to 07:00 CEST (05:00 UTC) is 7 real hours at 1 kWh/h.
    # Night lasts until 06:00 CEST = 04:00 UTC: 6 kWh * 0.20 = 1.20; then 1 kWh * 0.30 = 0.30.
    start = datetime(2024, 3, 30, 22, 0, tzinfo=UTC)

    result = price_session(
        night_and_day_energy(),
        [ChargingPeriodInput(start=start, seconds=Decimal(7 * 3600), energy=Decimal(7))],
        AMSTERDAM,
    )

    assert cost(result)[0] == dec("1.50")


def test_fall_back_lengthens_the_local_night_window() -> None:
    # Amsterdam, 26/27 October 2024: 03:00 CEST falls back to 02:00 CET (01:00 UTC).
    # Charging 23:00 CEST (21:00 UTC) to 07:00 CET (06:00 UTC) is 9 real hours at 1 kWh/h.
    # Night lasts until 06:00 CET = 05:00 UTC: 8 kWh * 0.20 = 1.60; then 1 kWh * 0.30 = 0.30.
    start = datetime(2024, 10, 26, 21, 0, tzinfo=UTC)

    result = price_session(
        night_and_day_energy(),
        [ChargingPeriodInput(start=start, seconds=Decimal(9 * 3600), energy=Decimal(9))],
        AMSTERDAM,
    )

    assert cost(result)[0] == dec("1.90")


def test_window_inside_the_repeated_hour_applies_both_times_it_occurs() -> None:
    # 02:15-02:45 happens twice on 27 October 2024 in Amsterdam: 00:15-00:45 and 01:15-01:45 UTC.
    t = tariff(
        element(component("TIME", "6.00"), start_time="02:15", end_time="02:45"),
        element(component("TIME", "0.00")),
    )
    start = datetime(2024, 10, 26, 23, 0, tzinfo=UTC)

    result = price_session(
        t, [ChargingPeriodInput(start=start, seconds=Decimal(4 * 3600))], AMSTERDAM
    )

    # 2 * 30 min * 6.00/h = 6.00.
    assert cost(result)[0] == dec("6.00")


def test_window_in_the_skipped_hour_never_applies() -> None:
    # 02:00-03:00 does not exist on 31 March 2024 in Amsterdam.
    t = tariff(
        element(component("TIME", "6.00"), start_time="02:00", end_time="03:00"),
        element(component("TIME", "1.00")),
    )
    start = datetime(2024, 3, 30, 23, 0, tzinfo=UTC)

    result = price_session(
        t, [ChargingPeriodInput(start=start, seconds=Decimal(4 * 3600))], AMSTERDAM
    )

    assert cost(result)[0] == dec("4.00")


def test_day_of_week_is_the_local_day() -> None:
    t = tariff(
        element(component("TIME", "2.00"), day_of_week=["SATURDAY", "SUNDAY"]),
        element(component("TIME", "1.00")),
    )
    # Friday 23:30 to Saturday 00:30 Berlin time (22:30-23:30 UTC, still Friday in UTC).
    result = price_session(t, session(at("2024-01-12T23:30"), ("charge", 60)), BERLIN)

    # 30 min * 1.00 + 30 min * 2.00 = 1.50.
    assert cost(result)[0] == dec("1.50")
    assert [p.time_element for p in result.periods] == [1, 0]


def test_parking_over_several_days_is_split_at_each_local_midnight() -> None:
    t = tariff(
        element(component("PARKING_TIME", "1.00"), day_of_week=["SATURDAY", "SUNDAY"]),
        element(component("PARKING_TIME", "2.00")),
    )
    # Friday 12:00 to Monday 12:00: 12 h * 2.00 + 48 h * 1.00 + 12 h * 2.00 = 96.00.
    result = price_session(t, session(at("2024-01-12T12:00"), ("park", 72 * 60)), BERLIN)

    assert cost(result)[0] == dec("96.00")
    assert len(result.periods) == 4


def test_start_date_is_inclusive_and_end_date_exclusive() -> None:
    t = tariff(
        element(component("TIME", "5.00"), start_date="2024-01-09", end_date="2024-01-10"),
        element(component("TIME", "1.00")),
    )
    # 8 Jan 23:00 to 10 Jan 01:00: only 9 January (24 h) is in range.
    result = price_session(t, session(at("2024-01-08T23:00"), ("charge", 26 * 60)), BERLIN)

    # 1 h * 1.00 + 24 h * 5.00 + 1 h * 1.00 = 122.00.
    assert cost(result)[0] == dec("122.00")


# --- energy, duration, power and current restrictions ------------------------------------------


def tiered_energy() -> Tariff:
    return tariff(
        element(component("ENERGY", "0.30"), max_kwh=10),
        element(component("ENERGY", "0.20"), min_kwh=10),
    )


def test_kwh_threshold_inside_a_period_is_located_by_interpolation() -> None:
    # 15 kWh evenly over 2 h: 10 kWh is reached after 80 min. 10 * 0.30 + 5 * 0.20 = 4.00.
    result = price_session(
        tiered_energy(),
        [charging(at("2024-01-08T10:00"), 120, 15)],
        BERLIN,
    )

    assert cost(result)[0] == dec("4.00")
    assert [p.energy for p in result.periods] == [10, 5]
    assert result.periods[1].start == at("2024-01-08T11:20")
    assert [p.energy_element for p in result.periods] == [0, 1]


def test_kwh_restriction_counts_energy_charged_in_earlier_periods() -> None:
    periods = session(at("2024-01-08T10:00"), ("charge", 60, 8), ("park", 10), ("charge", 60, 6))

    result = price_session(tiered_energy(), periods, BERLIN)

    # 8 + 2 kWh at 0.30 = 3.00, then 4 kWh at 0.20 = 0.80.
    assert cost(result)[0] == dec("3.80")


def test_duration_thresholds_split_a_period() -> None:
    t = tariff(
        element(component("TIME", "0.00"), max_duration=1800),
        element(component("TIME", "6.00"), min_duration=3600),
        element(component("TIME", "3.00")),
    )

    result = price_session(t, session(at("2024-01-08T10:00"), ("charge", 90)), BERLIN)

    # 30 min free, 30 min at 3.00, 30 min at 6.00 = 4.50.
    assert cost(result)[0] == dec("4.50")
    assert [p.time_element for p in result.periods] == [0, 2, 1]


def test_max_duration_counts_from_the_session_start_not_the_period_start() -> None:
    t = tariff(
        element(component("PARKING_TIME", "0.00"), max_duration=3600),
        element(component("PARKING_TIME", "12.00")),
    )
    periods = session(at("2024-01-08T10:00"), ("charge", 50), ("park", 20))

    result = price_session(t, periods, BERLIN)

    # Parking 10:50-11:00 is free, 11:00-11:10 costs 10 min * 12.00/h = 2.00.
    assert cost(result)[0] == dec("2.00")


def test_min_power_is_inclusive_and_max_power_exclusive() -> None:
    t = tariff(
        element(component("ENERGY", "0.50"), min_power=50),
        element(component("ENERGY", "0.30"), max_power=11),
        element(component("ENERGY", "0.40")),
    )

    def price(power: float) -> Decimal:
        return cost(
            price_session(t, [charging(at("2024-01-08T10:00"), 60, 10, power=power)], BERLIN)
        )[0]

    assert [price(50), price(49.9), price(11), price(10.9)] == [
        dec("5.00"),
        dec("4.00"),
        dec("4.00"),
        dec("3.00"),
    ]


def test_current_restrictions_use_the_periods_maximum_current() -> None:
    t = tariff(
        element(component("TIME", "1.00"), max_current=32),
        element(component("TIME", "2.00"), min_current=32),
    )

    low = price_session(t, [charging(at("2024-01-08T10:00"), 60, current=16)], BERLIN)
    high = price_session(t, [charging(at("2024-01-08T10:00"), 60, current=32)], BERLIN)

    assert (cost(low)[0], cost(high)[0]) == (dec("1.00"), dec("2.00"))


def test_unknown_current_while_charging_fails_current_restrictions() -> None:
    t = tariff(
        element(component("TIME", "1.00"), max_current=32),
        element(component("TIME", "5.00")),
    )

    result = price_session(t, [charging(at("2024-01-08T10:00"), 60)], BERLIN)

    assert cost(result)[0] == dec("5.00")


def test_parking_counts_as_zero_power_for_power_restrictions() -> None:
    t = tariff(element(component("PARKING_TIME", "3.00"), max_power=1))

    result = price_session(t, session(at("2024-01-08T10:00"), ("park", 60)), BERLIN)

    assert cost(result)[0] == dec("3.00")


# --- reservations -------------------------------------------------------------------------------


def test_reservation_elements_never_price_the_charging_session() -> None:
    t = tariff(
        element(component("TIME", "9.00"), component("FLAT", "9.00"), reservation="RESERVATION"),
        element(component("TIME", "1.00")),
    )

    result = price_session(t, session(at("2024-01-08T10:00"), ("charge", 60)), BERLIN)

    assert cost(result)[0] == dec("1.00")


def test_expired_reservation_prefers_reservation_expires_elements_wherever_listed() -> None:
    t = tariff(
        element(component("TIME", "2.00"), reservation="RESERVATION"),
        element(component("TIME", "6.00"), reservation="RESERVATION_EXPIRES"),
        element(component("ENERGY", "0.25")),
    )

    expired = price_session(t, session(at("2024-01-08T10:00"), ("reserve", 30)), BERLIN)
    used = price_session(
        t, session(at("2024-01-08T10:00"), ("reserve", 30), ("charge", 60, 4)), BERLIN
    )

    assert pair(expired.total_reservation_cost)[0] == dec("3.00")
    assert pair(used.total_reservation_cost)[0] == dec("1.00")
    assert expired.total_reservation_time == dec("0.5")
    assert used.total_time == dec("1")  # reservation time is not session time


# --- step size ----------------------------------------------------------------------------------


def test_energy_step_size_rounds_the_session_total_at_the_last_components_price() -> None:
    t = tariff(
        element(component("ENERGY", "0.20", step=500), end_time="17:00"),
        element(component("ENERGY", "0.27", step=500)),
    )
    periods = [
        charging(at("2024-01-08T16:00"), 60, 4.3),
        charging(at("2024-01-08T17:00"), 30, 1.1),
    ]

    result = price_session(t, periods, BERLIN)

    # 5.4 kWh rounds up to 5.5; the extra 0.1 kWh is billed after 17:00:
    # 4.3 * 0.20 + 1.2 * 0.27 = 0.86 + 0.324 = 1.184 -> 1.18.
    assert cost(result)[0] == dec("1.18")
    assert [(c.volume, c.billed_volume) for c in result.components] == [
        (dec("4.3"), dec("4.3")),
        (dec("1.1"), dec("1.2")),
    ]


@pytest.mark.parametrize(
    ("step", "expected"),
    [(1, "0.029"), (25, "0.03125"), (500, "0.125")],
)
def test_energy_step_size_is_in_watt_hours(step: int, expected: str) -> None:
    t = tariff(element(component("ENERGY", "0.25", step=step)))

    result = price_session(t, [charging(at("2024-01-08T10:00"), 5, 0.1152)], BERLIN)

    # 115.2 Wh billed as 116 Wh, 125 Wh or 500 Wh.
    assert result.components[0].amount_excl_tax == dec(expected)


def test_time_step_size_rounds_total_charging_time_not_the_last_period() -> None:
    t = tariff(
        element(component("TIME", "5.00", step=600), end_time="17:00"),
        element(component("TIME", "7.00", step=600)),
    )

    result = price_session(t, session(at("2024-01-08T16:54"), ("charge", 28)), BERLIN)

    # 28 min rounds up to 30: 6 min * 5.00/h + 24 min * 7.00/h = 0.50 + 2.80 = 3.30.
    assert cost(result)[0] == dec("3.30")


def test_with_parking_only_the_parking_time_is_rounded_up() -> None:
    t = tariff(
        element(component("TIME", "1.00", step=600), component("PARKING_TIME", "2.00", step=600))
    )

    result = price_session(t, session(at("2024-01-08T10:00"), ("charge", 21), ("park", 16)), BERLIN)

    # Charging 21 min stays 21 (0.35); parking 16 -> 20 min (0.6667). Total 1.0167 -> 1.02.
    assert [round(c.billed_volume * 60, 9) for c in result.components] == [21, 20]
    assert cost(result)[0] == dec("1.02")


def test_step_size_zero_bills_the_exact_volume_and_flat_ignores_step_size() -> None:
    t = tariff(element(component("FLAT", "1.00", step=500), component("ENERGY", "0.25", step=0)))

    result = price_session(t, [charging(at("2024-01-08T10:00"), 5, 0.1152)], BERLIN)

    # 1.00 + 0.1152 * 0.25 = 1.0288 -> 1.03.
    assert cost(result)[0] == dec("1.03")


# --- min / max price ----------------------------------------------------------------------------


def test_min_price_without_incl_vat_keeps_the_sessions_vat_ratio() -> None:
    t = tariff(element(component("ENERGY", "0.25", vat="10")), min_price={"excl_vat": 2})

    result = price_session(t, [charging(at("2024-01-08T10:00"), 10, 1)], BERLIN)

    assert cost(result) == (dec("2.00"), dec("2.20"))
    assert [line.amount for line in result.total_cost.taxes] == [dec("0.20")]
    assert (result.min_price_applied, result.max_price_applied) == (True, False)


def test_max_price_clamps_excl_and_incl_vat_each_to_its_own_limit() -> None:
    t = tariff(
        element(component("ENERGY", "0.50", vat="20")),
        max_price={"excl_vat": 10, "incl_vat": 11},
    )

    result = price_session(t, [charging(at("2024-01-08T10:00"), 60, 40)], BERLIN)

    # 20.00 / 24.00 -> 10.00, and incl follows to 12.00 before its own cap of 11.00.
    assert cost(result) == (dec("10.00"), dec("11.00"))
    assert result.total_cost.taxes[0].amount == dec("1.00")
    assert pair(result.total_energy_cost) == (dec("20.00"), dec("24.00"))  # sub-totals stay
    assert result.max_price_applied


def test_min_price_with_a_free_session_uses_the_limit_as_is() -> None:
    t = tariff(
        element(component("ENERGY", "0.25", vat="10")),
        min_price={"excl_vat": dec("1.00"), "incl_vat": dec("1.19")},
    )

    result = price_session(t, [charging(at("2024-01-08T10:00"), 10, 0)], BERLIN)

    assert cost(result) == (dec("1.00"), dec("1.19"))
    assert [(line.percentage, line.amount) for line in result.total_cost.taxes] == [
        (None, dec("0.19"))
    ]


# --- tax ----------------------------------------------------------------------------------------


def test_vat_is_computed_per_component_with_one_tax_line_per_rate() -> None:
    t = tariff(
        element(
            component("FLAT", "0.50", vat="20"),
            component("ENERGY", "0.25", vat="10"),
            component("PARKING_TIME", "1.00", vat="20"),
        )
    )
    periods = session(at("2024-01-08T10:00"), ("charge", 60, 20), ("park", 30))

    result = price_session(t, periods, BERLIN)

    # FLAT 0.50 + parking 0.50 at 20% = 0.20; energy 5.00 at 10% = 0.50.
    lines = {line.percentage: line.amount for line in result.total_cost.taxes}
    assert lines == {dec("20"): dec("0.20"), dec("10"): dec("0.50")}
    assert cost(result) == (dec("6.00"), dec("6.70"))


def test_tax_lines_add_up_to_the_rounded_difference() -> None:
    # Three lines of 0.375, 0.55 and 0.375 round to 1.31, but incl - excl is 10.30 - 9.00.
    t = tariff(
        element(component("FLAT", "2.50", vat="15")),
        element(component("TIME", "1.00", vat="20")),
        element(component("PARKING_TIME", "5.00", vat="10", step=300)),
    )
    periods = session(at("2024-01-08T09:30"), ("charge", 165), ("park", 42))

    money = price_session(t, periods, BERLIN).total_cost

    assert pair(money) == (dec("9.00"), dec("10.30"))
    assert sum(line.amount for line in money.taxes) == dec("1.30")


def test_vat_zero_percent_gives_a_zero_tax_line_unlike_no_vat() -> None:
    zero = tariff(element(component("TIME", "1.00", vat="0")))
    none = tariff(element(component("TIME", "1.00")))
    periods = session(at("2024-01-08T10:00"), ("charge", 60))

    assert price_session(zero, periods, BERLIN).total_cost.taxes[0].amount == 0
    assert price_session(none, periods, BERLIN).total_cost.taxes == ()


@pytest.mark.parametrize(
    ("tax_included", "expected", "tax"),
    [
        ("NO", ("5.25", "5.51"), "0.26"),
        ("YES", ("5.00", "5.25"), "0.25"),
        ("N/A", ("5.25", "5.25"), None),
    ],
)
def test_2_3_0_tax_included_decides_whether_vat_is_added_or_taken_out(
    tax_included: str, expected: tuple[str, str], tax: str | None
) -> None:
    t = tariff(
        element(component("TIME", "2.10", vat="5")),
        version="2.3.0",
        tax_included=tax_included,
    )

    result = price_session(t, session(at("2024-01-08T10:00"), ("charge", 150)), BERLIN)

    # 2.5 h * 2.10 = 5.25. NO: + 5% = 5.5125. YES: 5.25 / 1.05 = 5.00 before tax. N/A: no tax.
    assert cost(result) == (dec(expected[0]), dec(expected[1]))
    assert [line.amount for line in result.total_cost.taxes] == ([dec(tax)] if tax else [])


def test_money_is_rounded_to_the_currencys_minor_unit() -> None:
    t = tariff(element(component("ENERGY", "35.5")), currency="JPY")

    result = price_session(t, [charging(at("2024-01-08T10:00"), 60, 10.01)], "Asia/Tokyo")

    # 10.01 * 35.5 = 355.355 -> 355 yen.
    assert cost(result)[0] == dec("355")


# --- input checks -------------------------------------------------------------------------------


def test_periods_out_of_order_are_rejected() -> None:
    t = tariff(element(component("TIME", "1.00")))
    later, earlier = at("2024-01-08T11:00"), at("2024-01-08T10:00")

    with pytest.raises(SessionInputError, match=r"periods\[1\]\.start"):
        price_session(t, [charging(later, 10), charging(earlier, 10)], BERLIN)


def test_naive_period_start_is_rejected() -> None:
    t = tariff(element(component("TIME", "1.00")))
    naive = ChargingPeriodInput(start=datetime(2024, 1, 8, 10), seconds=Decimal(60))

    with pytest.raises(SessionInputError, match="timezone-aware"):
        price_session(t, [naive], BERLIN)


def test_unknown_time_zone_is_rejected() -> None:
    t = tariff(element(component("TIME", "1.00")))

    with pytest.raises(SessionInputError, match="time_zone"):
        price_session(t, [charging(at("2024-01-08T10:00"), 10)], "Mars/Olympus_Mons")


def test_periods_report_their_ocpi_dimensions() -> None:
    t = tariff(element(component("ENERGY", "0.25")))
    period = charging(at("2024-01-08T10:00"), 90, 12, power=11)

    dims = dict(price_session(t, [period], BERLIN).periods[0].dimensions)

    assert dims == {"ENERGY": dec("12"), "TIME": dec("1.5"), "MAX_POWER": dec("11")}


def test_empty_session_costs_nothing_but_the_min_price() -> None:
    t = tariff(element(component("FLAT", "1.00")), min_price={"excl_vat": dec("0.50")})

    result = price_session(t, [], BERLIN)

    assert cost(result) == (dec("0.50"), dec("0.50"))
    assert result.periods == ()


def test_split_periods_keep_their_kind_and_record_the_pricing_element() -> None:
    t = tariff(
        element(component("TIME", "2.00"), start_time="10:30"),
        element(component("TIME", "1.00")),
    )
    periods = session(at("2024-01-08T10:00"), ("charge", 60), ("park", 60))

    result = price_session(t, periods, BERLIN)

    kinds = [p.kind for p in result.periods]
    assert kinds == [PeriodKind.CHARGING, PeriodKind.CHARGING, PeriodKind.PARKING]
    assert [p.time_element for p in result.periods] == [1, 0, None]
    assert result.periods[1].start - result.periods[0].start == timedelta(minutes=30)
    assert cost(result)[0] == dec("1.50")
