"""The `singer-check-tap`-style checker (tests/support/singer_check.py) catches what it
should; tests/tap/test_singer_conformance.py runs it on the tap's output."""

from __future__ import annotations

import pytest

from tests.support.singer_check import SingerViolation, check_messages


def test_checker_catches_violations() -> None:
    schema = {
        "type": "SCHEMA",
        "stream": "s",
        "key_properties": ["id"],
        "schema": {
            "type": "object",
            "properties": {
                "id": {"type": "integer"},
                "u": {"type": "string", "format": "date-time"},
            },
        },
    }
    record = {"type": "RECORD", "stream": "s", "record": {"id": 1, "u": "2024-01-01T00:00:00Z"}}
    state = {"type": "STATE", "value": {"bookmarks": {}}}
    check_messages([schema, record, state])
    with pytest.raises(SingerViolation, match="before its SCHEMA"):
        check_messages([record, schema, state])
    with pytest.raises(SingerViolation, match="lacks key"):
        check_messages([schema, {**record, "record": {"u": "2024-01-01T00:00:00Z"}}, state])
    with pytest.raises(SingerViolation, match="invalid"):
        check_messages([schema, {**record, "record": {"id": "one"}}, state])
    with pytest.raises(SingerViolation, match="invalid"):
        check_messages([schema, {**record, "record": {"id": 2, "u": "yesterday"}}, state])
    with pytest.raises(SingerViolation, match="no STATE"):
        check_messages([schema, record])
