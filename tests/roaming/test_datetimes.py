"""OCPI DateTime: out at most 25 characters in UTC with Z; in, tolerant of zone and fractions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from roaming.transport.datetimes import format_datetime, parse_datetime


def test_microseconds_are_cut_to_milliseconds_within_25_characters() -> None:
    text = format_datetime(datetime(2024, 5, 1, 12, 0, 0, 123456, tzinfo=UTC))
    assert text == "2024-05-01T12:00:00.123Z"
    assert len(text) <= 25


def test_whole_seconds_have_no_fraction() -> None:
    assert format_datetime(datetime(2024, 5, 1, 12, 0, tzinfo=UTC)) == "2024-05-01T12:00:00Z"


def test_other_zones_are_written_in_utc() -> None:
    local = datetime(2024, 5, 1, 14, 0, tzinfo=timezone(timedelta(hours=2)))
    assert format_datetime(local) == "2024-05-01T12:00:00Z"


def test_missing_zone_is_read_as_utc() -> None:
    assert parse_datetime("2024-05-01T12:00:00") == datetime(2024, 5, 1, 12, tzinfo=UTC)


def test_fractions_of_a_second_are_read() -> None:
    parsed = parse_datetime("2024-05-01T12:00:00.5Z")
    assert parsed == datetime(2024, 5, 1, 12, 0, 0, 500000, tzinfo=UTC)


def test_offsets_are_converted_to_utc() -> None:
    assert parse_datetime("2024-05-01T14:00:00+02:00") == datetime(2024, 5, 1, 12, tzinfo=UTC)


@pytest.mark.parametrize("text", ["", "yesterday", "2024-02-30T00:00:00Z"])
def test_garbage_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="date-time"):
        parse_datetime(text)
