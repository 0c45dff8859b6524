"""Every run's output passes a `singer-check-tap`-style check, and its STATE restarts it."""

from __future__ import annotations

import pytest

from heymarket_sandbox import Sandbox
from tests.support.singer_check import SingerViolation, check_messages
from tests.support.tap_runner import run_tap, sandbox_config

# Runs the tap as a subprocess against the sandbox: not in `make unit`.
pytestmark = pytest.mark.slow


@pytest.mark.parametrize(
    "switches",
    [
        {},
        {"cursor": "inclusive", "precision": "seconds", "max_limit": 100, "page": "one"},
        {"mutate_every": 3},
    ],
    ids=["default", "clamped-inclusive-seconds", "changing-data"],
)
def test_output_conforms_and_state_restarts(switches: dict) -> None:
    with Sandbox(contacts=1200, seed=13, **switches) as sb:
        config = sandbox_config(sb.url, page_size=150)
        first = run_tap(config)
        assert first.returncode == 0, first.stderr[-2000:]
        counts = check_messages(first.messages)
        if not switches.get("mutate_every"):
            assert counts["contacts"] == 1200
        second = run_tap(config, state=first.final_state)
        assert second.returncode == 0, second.stderr[-2000:]
        check_messages(second.messages)
        assert second.final_state is not None


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
