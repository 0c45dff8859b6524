"""`tap_heymarket/walk_state.py`: what a walk remembers survives STATE, and only that.

The walker's property tests resume from real checkpoints, but a memory field the models
never vary (a server cursor learned in a run that is then killed, an unsettled group)
would be lost on resume without them noticing; these tests pin each field's round trip
through JSON and the tolerance of `from_state` for older or damaged entries.
"""

from __future__ import annotations

import json
import typing as t

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tap_heymarket.walk_state import (
    STEPS_US,
    WalkMemory,
    revs_from_state,
    revs_pair_ok,
    revs_to_state,
)

memories = st.builds(
    WalkMemory,
    capacity=st.integers(0, 10_000),
    page_mode=st.sampled_from([None, "zero", "one", "ignored"]),
    server_cursor=st.sampled_from([None, "strict", "inclusive"]),
    step_us=st.sampled_from(STEPS_US),
    emitted=st.integers(0, 10**9),
    incomplete_groups=st.lists(st.tuples(st.text(max_size=30), st.integers(0, 10**6))),
    unsettled_groups=st.lists(st.text(max_size=30)),
)


@given(memory=memories)
def test_every_field_survives_state(memory: WalkMemory) -> None:
    assert WalkMemory.from_state(json.loads(json.dumps(memory.to_state()))) == memory


def test_an_empty_memory_writes_no_unsettled_groups() -> None:
    """States written before unsettled groups existed stay byte-for-byte the same."""
    assert "unsettled_groups" not in WalkMemory().to_state()
    assert WalkMemory(unsettled_groups=["t"]).to_state()["unsettled_groups"] == ["t"]


@pytest.mark.parametrize("data", [None, [], "memory", 3])
def test_a_memory_that_is_not_an_object_is_the_default(data: t.Any) -> None:
    assert WalkMemory.from_state(data) == WalkMemory()


def test_damaged_fields_fall_back_one_by_one() -> None:
    memory = WalkMemory.from_state(
        {
            "capacity": "500",
            "page_mode": "two",
            "server_cursor": "loose",
            "step_us": 10,
            "emitted": 7,
            "incomplete_groups": [["2026-01-01T00:00:00Z", 3], ["short"], ["a", 1, 2], "s"],
            "unsettled_groups": "not a list",
        }
    )
    assert memory == WalkMemory(emitted=7, incomplete_groups=[("2026-01-01T00:00:00Z", 3)])


@pytest.mark.parametrize(
    ("pair", "ok"),
    [
        ([1, 2], True),
        ([0, 0], True),
        ((1, 2), False),
        ([1], False),
        ([1, 2, 3], False),
        ([1, "2"], False),
        (["1", 2], False),
        ([True, 2], False),
        ([1, 2.0], False),
        ("12", False),
        (None, False),
    ],
)
def test_a_revs_pair_is_two_integers_in_a_list(pair: t.Any, ok: bool) -> None:
    assert revs_pair_ok(pair) is ok


@given(revs=st.dictionaries(st.integers(0, 10**9), st.integers(0, 10**6)))
def test_revs_survive_state_sorted(revs: dict[int, int]) -> None:
    state = json.loads(json.dumps(revs_to_state(revs)))
    assert state == sorted(state)
    assert revs_from_state(state) == revs
    assert revs_from_state([*state, ["x", 1], [1]]) == revs
