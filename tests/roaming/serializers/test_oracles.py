"""The test oracles themselves: the semantic comparison and the OpenAPI schema loader."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tests.roaming.serializers.openapi import enum_values, schema_errors
from tests.roaming.serializers.semantic import differences


def test_differences_report_a_field_left_out():
    assert differences({"a": 1, "b": {"c": 2}}, {"a": 1, "b": {}}) == ["$.b.c: missing"]


def test_differences_report_a_field_added():
    assert differences({"a": 1}, {"a": 1, "z": 2}) == ["$.z: not in the example"]


def test_differences_compare_numbers_by_value():
    assert differences({"a": 8.50, "b": [1, 2.0]}, {"a": Decimal("8.5"), "b": [1.0, 2]}) == []


def test_differences_tell_a_number_from_its_text():
    assert differences({"a": 2.0}, {"a": "2.0"}) == ["$.a: expected 2.0, got '2.0'"]


def test_differences_compare_datetimes_as_instants():
    assert differences({"t": "2015-06-29T22:39:09Z"}, {"t": "2015-06-29T23:39:09+01:00"}) == []


def test_differences_report_another_instant():
    assert differences({"t": "2015-06-29T22:39:09Z"}, {"t": "2015-06-29T22:39:10Z"}) != []


def test_differences_report_a_list_of_another_length():
    assert differences([1, 2], [1]) == ["$: 2 items expected, 1 given"]


def test_yaml_booleans_do_not_spoil_the_tax_included_enum():
    assert enum_values("2.3.0", "tariffs", "TaxIncluded") == ["YES", "NO", "N/A"]


def test_schema_refuses_a_property_the_version_does_not_have():
    token = {
        "country_code": "DE",
        "party_id": "TNM",
        "uid": "1",
        "type": "RFID",
        "contract_id": "C1",
        "issuer": "X",
        "valid": True,
        "whitelist": "ALLOWED",
        "last_updated": "2018-12-10T17:16:15Z",
        "new_field": 1,
    }

    assert schema_errors(token, "2.2.1", "tokens", "Token") == [
        ": Additional properties are not allowed ('new_field' was unexpected)"
    ]


@pytest.mark.parametrize(
    "stamp", ["2018-12-10T17:16:15.123456Z", "10-12-2018", "2018-12-10T17:16:15.1234+00:00"]
)
def test_schema_refuses_a_datetime_ocpi_does_not_allow(stamp):
    token = {
        "country_code": "DE",
        "party_id": "TNM",
        "uid": "1",
        "type": "RFID",
        "contract_id": "C1",
        "issuer": "X",
        "valid": True,
        "whitelist": "ALLOWED",
        "last_updated": stamp,
    }

    assert schema_errors(token, "2.3.0", "tokens", "Token") != []


def test_schema_follows_references_into_other_files():
    price = {"before_taxes": 1, "taxes": [{"name": "VAT"}]}
    session = {"total_cost": price}

    assert "total_cost/taxes/0: 'amount' is a required property" in schema_errors(
        session, "2.3.0", "sessions", "Session"
    )
