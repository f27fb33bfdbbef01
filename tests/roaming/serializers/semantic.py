"""Semantic comparison of OCPI JSON: numbers as Decimal, date-times as instants, nothing dropped."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

from roaming.transport.datetimes import parse_datetime

_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}")


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float | Decimal) and not isinstance(value, bool)


def _same_scalar(expected: Any, actual: Any) -> bool:
    if _is_number(expected) or _is_number(actual):
        return (
            _is_number(expected)
            and _is_number(actual)
            and Decimal(str(expected)) == Decimal(str(actual))
        )
    if isinstance(expected, str) and isinstance(actual, str) and _DATETIME.match(expected):
        return _DATETIME.match(actual) is not None and (
            parse_datetime(expected) == parse_datetime(actual)
        )
    return type(expected) is type(actual) and expected == actual


def differences(expected: Any, actual: Any, path: str = "$") -> list[str]:
    """Every difference between an example and our output; empty when they say the same.

    A key of the example missing from the output is a difference, and so is a key the output
    adds: both directions must match.
    """
    if isinstance(expected, dict) and isinstance(actual, dict):
        found = [f"{path}.{key}: missing" for key in expected if key not in actual]
        found += [f"{path}.{key}: not in the example" for key in actual if key not in expected]
        for key in expected.keys() & actual.keys():
            found += differences(expected[key], actual[key], f"{path}.{key}")
        return found
    if isinstance(expected, list) and isinstance(actual, list):
        if len(expected) != len(actual):
            return [f"{path}: {len(expected)} items expected, {len(actual)} given"]
        return [
            line
            for index, (e, a) in enumerate(zip(expected, actual, strict=True))
            for line in differences(e, a, f"{path}[{index}]")
        ]
    if _same_scalar(expected, actual):
        return []
    return [f"{path}: expected {expected!r}, got {actual!r}"]
