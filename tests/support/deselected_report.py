"""A pytest plugin (`-p tests.support.deselected_report`): after collection, print one
`DESELECTED <node id>` line per test that `-m`, `-k` or `--deselect` left out, so that one
`--collect-only -q` run shows both what it selected and what it did not
(tests/unit/test_slow_by_folder.py)."""

from __future__ import annotations

import pytest

PREFIX = "DESELECTED "

_deselected: list[str] = []


def pytest_deselected(items: list[pytest.Item]) -> None:
    _deselected.extend(item.nodeid for item in items)


def pytest_report_collectionfinish() -> list[str]:
    return [PREFIX + node_id for node_id in _deselected]
