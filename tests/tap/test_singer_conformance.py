"""Every run's output passes a `singer-check-tap`-style check, and its STATE restarts it.

The checker itself is tested in process by tests/unit/test_singer_conformance.py.
"""

from __future__ import annotations

import pytest

from heymarket_sandbox import Sandbox
from tests.support.singer_check import check_messages
from tests.support.tap_runner import run_tap, sandbox_config


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
