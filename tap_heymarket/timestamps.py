"""Timestamp parsing and formatting.

Heymarket returns RFC 3339 strings whose precision is not documented. Bookmarks are
compared as strings by the SDK, so every `updated`/`created` leaves the tap in one
UTC format with microseconds: `2024-05-01T12:34:56.789000+00:00`.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

UTC = UTC

#: The largest step a cursor moves down by to turn "at or before" into "before" on a server
#: that compares with `<=`: one millisecond, the finest precision Heymarket's timestamps
#: are seen with, and the finest a server that stores JavaScript dates or DATETIME(3) can
#: compare. Data with finer timestamps switches the walk to MICROSECOND. (Upwards, the walk
#: steps by the data's precision as far as seen, up to a second: see `pagination.py`.)
MILLISECOND = timedelta(milliseconds=1)
MICROSECOND = timedelta(microseconds=1)


def parse(value: str) -> datetime:
    """Parse an RFC 3339 string to an aware UTC datetime (naive values are UTC).

    Raises:
        ValueError: when the value is not a date-time.
    """
    if not isinstance(value, str):
        raise ValueError(f"expected an RFC 3339 string, got {type(value).__name__}")
    parsed = datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def normalize(value: datetime) -> str:
    """The tap's one output format: UTC, microseconds, `+00:00`."""
    return value.astimezone(UTC).isoformat(timespec="microseconds")


def to_api(value: datetime, step: timedelta = MILLISECOND) -> str:
    """Format a cursor for the API's `date` field (RFC 3339, `Z`) at the walk's step."""
    text = value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")
    if step >= MILLISECOND:
        text = text[:-3]
    return text + "Z"
