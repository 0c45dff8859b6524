"""Timestamp parsing and formatting.

Heymarket returns RFC 3339 strings whose precision is not documented. Bookmarks are
compared as strings by the SDK, so every `updated`/`created` leaves the tap in one
UTC format with microseconds: `2024-05-01T12:34:56.789000+00:00`.
"""

from __future__ import annotations

import typing as t
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


def normalize_text(text: str, parsed: datetime) -> str:
    """`normalize(parsed)` for `parsed = parse(text)`, from the text where its shape allows.

    Formatting a datetime costs more than parsing it (docs/benchmarks.md); an RFC 3339 UTC
    string (`...56Z`, `...56.7Z`, `...56.789000+00:00`, or no zone) already holds every
    digit of the one output form, so it is re-cut instead. Any other shape is formatted.
    tests/unit/test_timestamps.py proves both give the same string.
    """
    if text[-1:] == "Z":
        body = text[:-1]
    elif text[-6:] == "+00:00":
        body = text[:-6]
    elif "+" not in text[19:] and "-" not in text[19:]:
        body = text  # no zone: UTC (see `parse`)
    else:
        return normalize(parsed)
    size = len(body)
    # Only the calendar form YYYY-MM-DDTHH:MM:SS: Python also parses week dates
    # (`2026-W22-7T...`) and basic forms, whose text is not the output's.
    if size < 19 or body[4:17:3] != "--T::":
        return normalize(parsed)
    if size == 19:
        return body + ".000000+00:00"
    if body[19] == "." and 21 <= size <= 26 and body[20:].isdigit():
        return body + "0" * (26 - size) + "+00:00"
    return normalize(parsed)


def read(text: str) -> tuple[datetime, str]:
    """`(parse(text), normalize_text(text, parse(text)))`, the common form inlined: the
    decoders call this twice per message (client.py, message_streams.py).

    Raises:
        ValueError: when the value is not a date-time (TypeError when not a string).
    """
    parsed = datetime.fromisoformat(text)
    zone = parsed.tzinfo
    if zone is None:
        parsed = parsed.replace(tzinfo=UTC)
    elif zone is not UTC:
        parsed = parsed.astimezone(UTC)
    # `...SS.ffffffZ` and `...SS.fffZ`, the API's usual forms: the output is that text
    # with `+00:00` (and the microseconds' zeros).
    size = len(text)
    if (size == 27 or size == 24) and text[-1] == "Z" and text[4:20:3] == "--T::.":
        return parsed, (text[:26] if size == 27 else text[:23] + "000") + "+00:00"
    return parsed, normalize_text(text, parsed)


def to_api(value: datetime, step: timedelta = MILLISECOND) -> str:
    """Format a cursor for the API's `date` field (RFC 3339, `Z`) at the walk's step."""
    text = value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")
    if step >= MILLISECOND:
        text = text[:-3]
    return text + "Z"


def floor_of(bookmark: datetime | None, start_date: datetime | None) -> datetime | None:
    """The oldest time a walk reads down to: the bookmark or `start_date`, the later one.

    The later one: a bookmark before `start_date` must not pull older records in, and a
    `start_date` before the bookmark must not read again what the last run read."""
    candidates = [value for value in (bookmark, start_date) if value is not None]
    return max(candidates) if candidates else None


def parse_optional(value: t.Any) -> datetime | None:
    """A timestamp kept in STATE: None for null, else `parse` (ValueError when not one)."""
    return None if value is None else parse(value)
