"""Reading tariffs and CDR charging periods of each OCPI version, and writing CDR totals."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, time
from decimal import Decimal
from typing import Any

import pytest

from billing.pricing import (
    DayOfWeek,
    DimensionType,
    PeriodKind,
    PriceLimit,
    ReservationRestriction,
    SessionInputError,
    TariffError,
    TaxIncluded,
    price_session,
    session_from_ocpi_cdr,
    tariff_from_ocpi,
    to_ocpi_totals,
)
from tests.billing.pricing.helpers import (
    at,
    component,
    dec,
    element,
    example_json,
    example_tariff,
    session,
    tariff,
    tariff_json,
)

# A 2.1.1 tariff: no VAT, no min/max price, no tax_included.
TARIFF_2_1_1 = {
    "id": "11",
    "currency": "EUR",
    "elements": [
        {"price_components": [{"type": "FLAT", "price": 2.5, "step_size": 1}]},
        {
            "price_components": [{"type": "TIME", "price": 1.0, "step_size": 900}],
            "restrictions": {"max_power": 32.0},
        },
        {"price_components": [{"type": "TIME", "price": 2.0, "step_size": 900}]},
    ],
    "last_updated": "2015-06-29T20:39:09Z",
}


# --- tariffs -------------------------------------------------------------------------------------


def test_json_floats_become_exact_decimals() -> None:
    parsed = example_tariff("2.2.1", "tariff_2_alt_text.json")

    assert parsed.elements[0].price_components[0].price == Decimal("1.9")
    assert parsed.elements[0].price_components[0].vat == Decimal("5.2")


def test_2_1_1_tariff_has_no_vat_and_no_price_limits() -> None:
    parsed = tariff_from_ocpi(TARIFF_2_1_1, "2.1.1")

    assert parsed.tax_included is TaxIncluded.NO
    assert (parsed.min_price, parsed.max_price) == (None, None)
    assert parsed.elements[1].restrictions is not None
    assert parsed.elements[1].restrictions.max_power == Decimal("32.0")


def test_2_1_1_cdr_is_priced_and_written_as_plain_numbers() -> None:
    cdr = {
        "start_date_time": "2024-01-08T09:00:00Z",
        "stop_date_time": "2024-01-08T11:00:00Z",
        "charging_periods": [
            _period("2024-01-08T09:00:00Z", ENERGY=11, TIME=1.5),
            _period("2024-01-08T10:30:00Z", PARKING_TIME=0.25),
        ],
    }
    tariff_2_1_1 = tariff_from_ocpi(TARIFF_2_1_1, "2.1.1")

    result = price_session(tariff_2_1_1, session_from_ocpi_cdr(cdr).periods, "Europe/Berlin")

    # 2.1.1 CDRs carry no power, so the max_power element cannot apply: FLAT 2.50 + 1.5 h * 2.00.
    assert to_ocpi_totals(result, "2.1.1") == {
        "total_cost": dec("5.50"),
        "total_energy": dec("11.000"),
        "total_time": dec("1.75"),
        "total_parking_time": dec("0.25"),
    }


def test_2_2_1_price_limits_read_excl_and_incl_vat() -> None:
    parsed = example_tariff("2.2.1", "tariff_6_025kwh_start_max_price.json")

    assert parsed.max_price == PriceLimit(Decimal("10"), Decimal("11"))
    assert parsed.end_date_time == datetime(2019, 6, 30, 23, 59, 59, tzinfo=UTC)


def test_2_3_0_price_limits_read_before_and_after_taxes() -> None:
    parsed = example_tariff("2.3.0", "tariff_12_025kwh_min_price.json")

    assert parsed.min_price == PriceLimit(Decimal("0.5"), Decimal("0.55"))
    assert parsed.tax_included is TaxIncluded.NO


def test_2_3_0_tax_included_yes_is_read() -> None:
    parsed = example_tariff("2.3.0", "tariff_20_simple_north_american_inclusive.json")

    assert parsed.tax_included is TaxIncluded.YES


def test_restrictions_are_read_into_typed_values() -> None:
    parsed = example_tariff("2.2.1", "tariff_4_complex.json")
    weekday_parking = parsed.elements[4].restrictions

    assert weekday_parking is not None
    assert (weekday_parking.start_time, weekday_parking.end_time) == (time(9), time(18))
    assert DayOfWeek.FRIDAY in weekday_parking.day_of_week
    assert DayOfWeek.SATURDAY not in weekday_parking.day_of_week


def test_reservation_restriction_is_read() -> None:
    parsed = example_tariff("2.2.1", "tariff_17_reservation_with_expire_fee.json")

    assert parsed.elements[0].restrictions is not None
    assert parsed.elements[0].restrictions.reservation is ReservationRestriction.RESERVATION_EXPIRES


def test_2_3_0_unknown_dimension_is_skipped_and_unknown_tariff_type_ignored() -> None:
    data = tariff_json(
        element(component("ENERGY", "0.25"), component("CARBON", "1.00")),
        type="PROFILE_TURBO",
        tax_included="NO",
    )

    parsed = tariff_from_ocpi(data, "2.3.0")

    assert [c.type for c in parsed.elements[0].price_components] == [DimensionType.ENERGY]
    assert parsed.type is None


def _broken(path: tuple[Any, ...], value: Any) -> dict[str, Any]:
    data = copy.deepcopy(
        tariff_json(
            element(component("ENERGY", "0.25", vat="10"), start_time="08:00", max_kwh=10),
            min_price={"excl_vat": dec("1"), "incl_vat": dec("1.1")},
        )
    )
    target: Any = data
    for key in path[:-1]:
        target = target[key]
    if value is _DELETE:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return data


_DELETE = object()


@pytest.mark.parametrize(
    ("path", "value", "field"),
    [
        (("currency",), "EURO", "currency"),
        (("currency",), _DELETE, "currency"),
        (("elements",), [], "elements"),
        (("elements", 0, "price_components"), [], "elements[0].price_components"),
        (
            ("elements", 0, "price_components", 0, "type"),
            "KWH",
            "elements[0].price_components[0].type",
        ),
        (
            ("elements", 0, "price_components", 0, "price"),
            "0.25",
            "elements[0].price_components[0].price",
        ),
        (
            ("elements", 0, "price_components", 0, "price"),
            -1,
            "elements[0].price_components[0].price",
        ),
        (
            ("elements", 0, "price_components", 0, "price"),
            float("nan"),
            "elements[0].price_components[0].price",
        ),
        (
            ("elements", 0, "price_components", 0, "vat"),
            True,
            "elements[0].price_components[0].vat",
        ),
        (
            ("elements", 0, "price_components", 0, "step_size"),
            1.5,
            "elements[0].price_components[0].step_size",
        ),
        (
            ("elements", 0, "price_components", 0, "step_size"),
            _DELETE,
            "elements[0].price_components[0].step_size",
        ),
        (
            ("elements", 0, "restrictions", "start_time"),
            "8:00",
            "elements[0].restrictions.start_time",
        ),
        (
            ("elements", 0, "restrictions", "start_time"),
            "24:00",
            "elements[0].restrictions.start_time",
        ),
        (
            ("elements", 0, "restrictions", "start_date"),
            "2024-02-30",
            "elements[0].restrictions.start_date",
        ),
        (("elements", 0, "restrictions", "max_kwh"), -5, "elements[0].restrictions.max_kwh"),
        (("elements", 0, "restrictions", "min_kwh"), 20, "elements[0].restrictions.max_kwh"),
        (
            ("elements", 0, "restrictions", "max_duration"),
            1.5,
            "elements[0].restrictions.max_duration",
        ),
        (
            ("elements", 0, "restrictions", "day_of_week"),
            ["MON"],
            "elements[0].restrictions.day_of_week[0]",
        ),
        (
            ("elements", 0, "restrictions", "reservation"),
            "YES",
            "elements[0].restrictions.reservation",
        ),
        (("min_price", "excl_vat"), _DELETE, "min_price.excl_vat"),
        (("max_price",), {"excl_vat": dec("0.5")}, "max_price"),
    ],
)
def test_bad_tariff_raises_tariff_error_naming_the_field(
    path: tuple[Any, ...], value: Any, field: str
) -> None:
    with pytest.raises(TariffError) as caught:
        tariff_from_ocpi(_broken(path, value), "2.2.1")

    assert caught.value.field == field
    assert str(caught.value).startswith(f"{field}: ")


def test_2_3_0_bad_tax_included_and_old_style_price_limit_are_rejected() -> None:
    with pytest.raises(TariffError, match=r"^tax_included: "):
        tariff_from_ocpi(
            tariff_json(element(component("TIME", "1")), tax_included="MAYBE"), "2.3.0"
        )
    with pytest.raises(TariffError, match=r"^min_price\.before_taxes: "):
        tariff_from_ocpi(
            tariff_json(
                element(component("TIME", "1")), tax_included="NO", min_price={"excl_vat": 1}
            ),
            "2.3.0",
        )


def test_unsupported_version_is_rejected() -> None:
    with pytest.raises(TariffError, match=r"^version: "):
        tariff_from_ocpi(TARIFF_2_1_1, "3.0")


# --- CDR / session charging periods --------------------------------------------------------------


def _cdr(*periods: dict[str, Any], end: str = "2024-01-08T12:00:00Z") -> dict[str, Any]:
    return {
        "start_date_time": "2024-01-08T10:00:00Z",
        "end_date_time": end,
        "charging_periods": list(periods),
    }


def _period(start: str, **dims: float) -> dict[str, Any]:
    return {
        "start_date_time": start,
        "dimensions": [{"type": key, "volume": value} for key, value in dims.items()],
    }


def test_cdr_period_with_time_and_parking_becomes_charging_then_parking() -> None:
    cdr = _cdr(
        _period("2024-01-08T10:00:00Z", ENERGY=12.5, TIME=1.5, PARKING_TIME=0.25, MAX_POWER=11)
    )

    periods = session_from_ocpi_cdr(cdr).periods

    assert [(p.kind, p.seconds, p.energy) for p in periods] == [
        (PeriodKind.CHARGING, Decimal("5400.0"), Decimal("12.5")),
        (PeriodKind.PARKING, Decimal("900.00"), Decimal(0)),
    ]
    assert periods[1].start == datetime(2024, 1, 8, 11, 30, tzinfo=UTC)
    assert (periods[0].max_power, periods[1].max_power) == (Decimal(11), None)


def test_cdr_period_without_time_dimensions_lasts_until_the_next_one() -> None:
    cdr = _cdr(
        _period("2024-01-08T10:00:00Z", ENERGY=5, MAX_CURRENT=16),
        _period("2024-01-08T10:45:00Z", ENERGY=0),
    )

    periods = session_from_ocpi_cdr(cdr).periods

    assert [(p.kind, p.seconds) for p in periods] == [
        (PeriodKind.CHARGING, Decimal(2700)),
        (PeriodKind.PARKING, Decimal(4500)),
    ]
    assert periods[0].max_current == Decimal(16)


def test_cdr_reservation_time_becomes_a_reservation_period() -> None:
    cdr = _cdr(
        _period("2024-01-08T10:00:00Z", RESERVATION_TIME=0.25),
        _period("2024-01-08T10:15:00Z", ENERGY=20, TIME=1),
    )

    periods = session_from_ocpi_cdr(cdr).periods

    assert [p.kind for p in periods] == [PeriodKind.RESERVATION, PeriodKind.CHARGING]


def test_2_1_1_cdr_with_stop_date_time_and_naive_timestamps_is_read() -> None:
    cdr = {
        "start_date_time": "2015-06-29T21:39:09",
        "stop_date_time": "2015-06-29T23:37:32",
        "charging_periods": [_period("2015-06-29T21:39:09", ENERGY=3)],
    }

    read = session_from_ocpi_cdr(cdr)

    assert read.end == datetime(2015, 6, 29, 23, 37, 32, tzinfo=UTC)
    assert read.periods[0].seconds == Decimal(7103)


def test_ongoing_session_needs_an_end_for_a_period_without_time() -> None:
    data = {
        "start_date_time": "2024-01-08T10:00:00Z",
        "charging_periods": [_period("2024-01-08T10:00:00Z", ENERGY=3)],
    }

    with pytest.raises(SessionInputError, match=r"^charging_periods\[0\]: "):
        session_from_ocpi_cdr(data)
    assert (
        session_from_ocpi_cdr(data, end=datetime(2024, 1, 8, 10, 30, tzinfo=UTC)).periods[0].seconds
        == 1800
    )


@pytest.mark.parametrize(
    ("cdr", "field"),
    [
        (_cdr({"dimensions": []}), "charging_periods[0].start_date_time"),
        (_cdr(_period("yesterday")), "charging_periods[0].start_date_time"),
        (
            _cdr({"start_date_time": "2024-01-08T10:00:00Z", "dimensions": {}}),
            "charging_periods[0].dimensions",
        ),
        (
            _cdr(_period("2024-01-08T10:00:00Z", TIME=-1)),
            "charging_periods[0].dimensions[0].volume",
        ),
        (_cdr(_period("2024-01-08T13:00:00Z", ENERGY=1)), "charging_periods[0]"),
    ],
)
def test_bad_cdr_raises_session_input_error_naming_the_field(
    cdr: dict[str, Any], field: str
) -> None:
    with pytest.raises(SessionInputError) as caught:
        session_from_ocpi_cdr(cdr)

    assert caught.value.field == field


# --- CDR totals ---------------------------------------------------------------------------------


def _priced(version: str = "2.2.1") -> Any:
    t = tariff(
        element(
            component("FLAT", "0.50", vat="20"),
            component("ENERGY", "0.25", vat="10"),
            component("PARKING_TIME", "2.00", vat="20", step=900),
        ),
        version=version,
        **({"tax_included": "NO"} if version == "2.3.0" else {}),
    )
    periods = session(at("2024-01-08T10:00"), ("charge", 120, 20), ("park", 40))
    return price_session(t, periods, "Europe/Berlin")


def test_2_1_1_totals_are_plain_numbers_before_tax() -> None:
    assert to_ocpi_totals(_priced(), "2.1.1") == {
        "total_cost": dec("7.00"),
        "total_energy": dec("20.000"),
        "total_time": dec("2.6667"),
        "total_parking_time": dec("0.6667"),
    }


def test_2_2_1_totals_are_prices_with_excl_and_incl_vat_for_used_categories_only() -> None:
    assert to_ocpi_totals(_priced(), "2.2.1") == {
        "total_cost": {"excl_vat": dec("7.00"), "incl_vat": dec("7.90")},
        "total_fixed_cost": {"excl_vat": dec("0.50"), "incl_vat": dec("0.60")},
        "total_energy_cost": {"excl_vat": dec("5.00"), "incl_vat": dec("5.50")},
        "total_parking_cost": {"excl_vat": dec("1.50"), "incl_vat": dec("1.80")},
        "total_energy": dec("20.000"),
        "total_time": dec("2.6667"),
        "total_parking_time": dec("0.6667"),
    }


def test_2_3_0_totals_are_before_taxes_plus_one_vat_line() -> None:
    totals = to_ocpi_totals(_priced("2.3.0"), "2.3.0")

    assert totals["total_cost"] == {
        "before_taxes": dec("7.00"),
        "taxes": [{"name": "VAT", "amount": dec("0.90")}],
    }
    assert totals["total_energy_cost"] == {
        "before_taxes": dec("5.00"),
        "taxes": [{"name": "VAT", "amount": dec("0.50")}],
    }


def test_2_3_0_totals_without_any_vat_have_no_tax_lines() -> None:
    t = example_tariff("2.3.0", "tariff_19_simple_north_american_exclusive.json")
    result = price_session(
        t, session(at("2024-01-08T10:00", "America/Toronto"), ("charge", 150)), "America/Toronto"
    )

    assert to_ocpi_totals(result, "2.3.0")["total_cost"] == {
        "before_taxes": dec("5.00"),
        "taxes": [],
    }


def test_totals_for_an_unknown_version_are_refused() -> None:
    with pytest.raises(ValueError, match=r"'2\.2'"):
        to_ocpi_totals(_priced(), "2.2")


def test_example_cdr_json_round_trip_through_parse_and_price() -> None:
    cdr = example_json("2.2.1", "cdr_example.json")
    read = session_from_ocpi_cdr(cdr)

    assert read.start == datetime(2015, 6, 29, 21, 39, 9, tzinfo=UTC)
    assert read.periods[0].seconds == Decimal("7102.800")
