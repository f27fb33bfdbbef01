"""Stamps of rendered texts: one tag per state of an object, whatever the time zone it is read in."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from roaming.transport.rendered import stamp

CHANGED = datetime(2026, 12, 7, 12, 0, 0, 123456, tzinfo=UTC)


def test_a_microsecond_later_is_another_state() -> None:
    later = CHANGED + timedelta(microseconds=1)
    assert stamp(1, CHANGED, "NL", "ABC").tag != stamp(1, later, "NL", "ABC").tag


def test_the_same_instant_in_another_zone_is_the_same_state() -> None:
    in_berlin = CHANGED.astimezone(timezone(timedelta(hours=1)))
    assert stamp(1, CHANGED, "NL", "ABC") == stamp(1, in_berlin, "NL", "ABC")


def test_every_value_of_the_state_is_in_the_tag() -> None:
    assert stamp(1, CHANGED, "NL", "ABC").tag != stamp(1, CHANGED, "NL", "ABD").tag
    assert stamp(1, CHANGED, "NL", None).tag != stamp(1, CHANGED, "NL", "None ").tag


def test_the_tag_ends_the_line_before_the_text() -> None:
    assert stamp(1, CHANGED, "NL", "ABC").tag == b"1796644800123456|NL|ABC\n"
