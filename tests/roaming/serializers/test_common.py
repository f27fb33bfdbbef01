"""Shared wire helpers: prices per version, numbers, times, enums and error paths."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from rest_framework import serializers

from roaming.choices import OcpiVersion
from roaming.modules.common import (
    DateTimeField,
    DecimalField,
    EnumField,
    EnumListField,
    Money,
    decimal_out,
    energy_mix_to_ocpi,
    error_paths,
    omit_empty,
    price_field,
    price_to_ocpi,
)

V211, V221, V230 = OcpiVersion.V2_1_1, OcpiVersion.V2_2_1, OcpiVersion.V2_3_0


def read(field: serializers.Field, data: object) -> object:
    return field.run_validation(data)


def test_price_221_keeps_the_vat_as_one_tax_line():
    money = read(price_field(V221), {"excl_vat": 4.00, "incl_vat": 4.40})

    assert money == Money(Decimal("4.0000"), [{"name": "VAT", "amount": "0.4000"}])


def test_price_221_without_incl_vat_has_no_tax_lines():
    assert read(price_field(V221), {"excl_vat": 2.5}) == Money(Decimal("2.5000"), None)


def test_price_230_keeps_its_tax_lines():
    money = read(
        price_field(V230),
        {"before_taxes": 10, "taxes": [{"name": "GST", "percentage": 5, "amount": 0.5}]},
    )

    assert money == Money(
        Decimal("10.0000"), [{"name": "GST", "percentage": 5, "amount": "0.5000"}]
    )


def test_price_211_is_a_bare_number():
    assert read(price_field(V211), "2.50") == Money(Decimal("2.5000"), None)


def test_price_230_without_before_taxes_names_it():
    with pytest.raises(serializers.ValidationError) as caught:
        read(price_field(V230), {"taxes": []})

    assert error_paths(caught.value.detail) == ["before_taxes: This field is required."]


def test_price_out_221_adds_every_tax_line_to_incl_vat():
    taxes: list[dict[str, Any]] = [
        {"name": "GST", "amount": "0.50"},
        {"name": "PST", "amount": 0.7},
    ]

    assert price_to_ocpi(Decimal("10"), taxes, V221) == {
        "excl_vat": Decimal(10),
        "incl_vat": Decimal("11.2"),
    }


def test_price_out_230_sends_tax_lines_as_numbers():
    taxes = [{"name": "VAT", "percentage": 21, "amount": "2.1000"}]

    assert price_to_ocpi(Decimal("10.0000"), taxes, V230) == {
        "before_taxes": Decimal(10),
        "taxes": [{"name": "VAT", "percentage": Decimal(21), "amount": Decimal("2.1")}],
    }


def test_price_out_of_nothing_is_nothing():
    assert price_to_ocpi(None, None, V230) is None


def test_decimal_field_rounds_extra_decimals_instead_of_refusing_them():
    assert read(DecimalField(), 0.123456) == Decimal("0.1235")


def test_decimal_field_refuses_text():
    with pytest.raises(serializers.ValidationError):
        read(DecimalField(), "lots")


def test_decimal_out_has_no_trailing_zeros_or_exponent():
    assert [str(decimal_out(v)) for v in (Decimal("8.5000"), Decimal("1E+2"), 0.0006)] == [
        "8.5",
        "100",
        "0.0006",
    ]


@pytest.mark.parametrize(
    "text",
    ["2024-01-31T12:00:00Z", "2024-01-31T12:00:00", "2024-01-31T13:00:00+01:00"],
)
def test_datetime_field_reads_every_form_of_the_same_instant(text):
    assert read(DateTimeField(), text) == datetime(2024, 1, 31, 12, tzinfo=UTC)


def test_datetime_field_refuses_a_date_alone_with_its_input():
    with pytest.raises(serializers.ValidationError, match="'31-01-2024'"):
        read(DateTimeField(), "31-01-2024")


def test_closed_enum_refuses_a_value_it_does_not_have():
    with pytest.raises(serializers.ValidationError, match="'PURPLE' is not one of: BLUE, RED"):
        read(EnumField(("RED", "BLUE")), "PURPLE")


def test_open_enum_keeps_a_new_value():
    assert read(EnumField(("RED",), open_enum=True), "PURPLE") == "PURPLE"


def test_open_enum_still_refuses_what_is_not_an_enum_value():
    with pytest.raises(serializers.ValidationError):
        read(EnumField(("RED",), open_enum=True), "not a value!")


def test_open_enum_list_drops_new_values():
    assert read(EnumListField(("RED",), open_enum=True), ["RED", "PURPLE"]) == ["RED"]


def test_omit_empty_keeps_false_and_zero():
    empty: dict[str, object] = {"a": None, "b": "", "c": [], "d": {}}
    kept = {"e": False, "f": 0, "g": Decimal("0.00"), "h": " ", "i": [None], "j": {"k": None}}
    assert omit_empty({**empty, **kept}) == kept


def test_energy_mix_for_211_names_the_impact_category_source():
    mix = {"is_green_energy": False, "environ_impact": [{"category": "NUCLEAR_WASTE", "amount": 1}]}

    assert energy_mix_to_ocpi(mix, V211) == {
        "is_green_energy": False,
        "environ_impact": [{"source": "NUCLEAR_WASTE", "amount": 1}],
    }


def test_error_paths_name_nested_fields():
    detail = {
        "evses": {0: {"connectors": {1: {"standard": ["Bad."]}}}},
        "non_field_errors": ["Whole object."],
        "tariffs": [{}, {"currency": ["Missing."]}],
    }

    assert error_paths(detail) == [
        "evses[0].connectors[1].standard: Bad.",
        "non_field_errors: Whole object.",
        "tariffs[1].currency: Missing.",
    ]
