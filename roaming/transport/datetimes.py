"""OCPI DateTime on the wire: out in UTC with 'Z' and at most milliseconds; in, tolerant."""

from __future__ import annotations

from datetime import UTC, datetime

# OCPI DateTime is at most 25 characters; Python's microseconds would make it 27.


def format_datetime(value: datetime) -> str:
    """UTC with 'Z'; milliseconds only when there are any, so whole seconds stay short."""
    value = value.astimezone(UTC)
    if value.microsecond:
        return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_datetime(value: str) -> datetime:
    """Parse an OCPI DateTime; a missing zone means UTC, fractions of a second are accepted.

    Raises ValueError with the offending text for anything else.
    """
    if not isinstance(value, str) or not value:
        raise ValueError(f"expected an RFC 3339 date-time, got {value!r}")
    text = value.strip()
    if text[-1:] in ("Z", "z"):
        text = text[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{value!r} is not an RFC 3339 date-time") from None
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    try:
        return parsed.astimezone(UTC)
    except OverflowError:  # 0001-01-01T00:00+01:00 and the like fall outside datetime in UTC
        raise ValueError(f"{value!r} is outside the range of date-times") from None
