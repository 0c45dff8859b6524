"""A Singer conformance checker in the style of `singer-check-tap`.

It reads a tap's messages and fails on: a RECORD before its stream's SCHEMA, a record
that does not validate against that schema (date-time formats included), a record
missing a key property, or a STATE that is not a JSON object of bookmarks.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from jsonschema import Draft7Validator, FormatChecker

#: jsonschema checks "date-time" only when an optional package is installed; check it
#: here with the standard library so the checker never silently skips formats.
FORMATS = FormatChecker()


@FORMATS.checks("date-time", raises=ValueError)
def _is_date_time(value: object) -> bool:
    if not isinstance(value, str):
        return True
    parsed = datetime.fromisoformat(value)
    return parsed.tzinfo is not None and "T" in value


class SingerViolation(AssertionError):
    pass


def check_messages(messages: list[dict[str, Any]], *, sample_every: int = 1) -> dict[str, int]:
    """Validate a message stream; returns records counted per stream.

    `sample_every` validates every n-th record's schema (all are checked for order and keys).
    """
    validators: dict[str, Draft7Validator] = {}
    keys: dict[str, list[str]] = {}
    counts: dict[str, int] = {}
    saw_state = False
    for index, message in enumerate(messages):
        kind = message.get("type")
        if kind == "SCHEMA":
            stream = message["stream"]
            Draft7Validator.check_schema(message["schema"])
            validators[stream] = Draft7Validator(message["schema"], format_checker=FORMATS)
            keys[stream] = list(message.get("key_properties") or [])
        elif kind == "RECORD":
            stream = message["stream"]
            if stream not in validators:
                raise SingerViolation(f"message {index}: RECORD for {stream!r} before its SCHEMA")
            record = message["record"]
            for key in keys[stream]:
                if record.get(key) is None:
                    raise SingerViolation(f"message {index}: {stream} record lacks key {key!r}")
            counts[stream] = counts.get(stream, 0) + 1
            if counts[stream] % sample_every == 0:
                errors = sorted(validators[stream].iter_errors(record), key=str)
                if errors:
                    where = f"message {index}: {stream} record {record.get('id')}"
                    raise SingerViolation(f"{where} invalid: {errors[0].message}")
        elif kind == "STATE":
            value = message.get("value")
            if not isinstance(value, dict) or not isinstance(value.get("bookmarks", {}), dict):
                raise SingerViolation(f"message {index}: STATE value is not a bookmarks object")
            saw_state = True
        elif kind in ("ACTIVATE_VERSION", "BATCH"):
            continue
        else:
            raise SingerViolation(f"message {index}: unknown message type {kind!r}")
    if counts and not saw_state:
        raise SingerViolation("records were emitted but no STATE followed")
    return counts
