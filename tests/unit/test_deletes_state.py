"""What a delete sweep keeps in STATE (tap_heymarket/sweep.py), in process."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from tap_heymarket import timestamps
from tap_heymarket.sweep import SweepProgress
from tap_heymarket.walk_state import MAX_REVS, WalkMemory


def test_a_sweep_state_round_trips_and_a_foreign_one_is_refused() -> None:
    """What a sweep keeps in STATE (tap_heymarket/sweep.py) comes back as it was; an entry
    the tap did not write is refused (the sweep then starts over), never trusted."""
    at = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
    sweep = SweepProgress(
        version=1_700_000_000_000,
        started_at=at,
        round=2,
        floor=at,
        floor_read_at=at,
        top_read=True,
        next_floor=at,
        walk={"floor": None, "top": None, "cursor": "2024-05-01T11:00:00+00:00", "kind": "lt"},
        seen={7: (3, at), 9: (1, at)},
        threshold=at,
        unproven=["x"],
        records=10,
        requests=4,
    )
    again = SweepProgress.from_state(sweep.to_state())
    assert again is not None and again.to_state() == sweep.to_state()
    assert again.known_at(at) == {7: 3, 9: 1}
    good = sweep.to_state()
    for bad in (
        [],
        {},
        {**good, "version": "1"},
        {**good, "started_at": "yesterday"},
        {**good, "seen": [[1, 2]]},
        {**good, "walk": {"cursor": "nope"}},
        {**good, "walk": {"kind": "sideways"}},
        {**good, "round": -1},
    ):
        assert SweepProgress.from_state(bad) is None, bad


times = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
)
maybe_times = st.none() | times
walks = st.none() | st.fixed_dictionaries(
    {
        "floor": st.none() | times.map(timestamps.normalize),
        "top": st.none() | times.map(timestamps.normalize),
        "cursor": st.none() | times.map(timestamps.normalize),
        "kind": st.sampled_from([None, "le", "lt"]),
    }
)


@st.composite
def sweeps(draw: st.DrawFn) -> SweepProgress:
    ids = draw(st.lists(st.integers(0, 10**9), unique=True, max_size=MAX_REVS + 40))
    return SweepProgress(
        version=draw(st.integers(0, 2**62)),
        started_at=draw(times),
        round=draw(st.integers(0, 50)),
        floor=draw(maybe_times),
        floor_read_at=draw(maybe_times),
        top_read=draw(st.booleans()),
        next_floor=draw(maybe_times),
        next_floor_read_at=draw(maybe_times),
        walk=draw(walks),
        learned=draw(st.none() | st.builds(lambda m: m.to_state(), st.builds(WalkMemory))),
        seen={i: (draw(st.integers(0, 10**6)), draw(times)) for i in ids},
        threshold=draw(maybe_times),
        unproven=draw(st.lists(st.text(max_size=20), max_size=3)),
        records=draw(st.integers(0, 10**9)),
        requests=draw(st.integers(0, 10**6)),
    )


@given(sweep=sweeps())
def test_every_field_of_a_sweep_survives_state(sweep: SweepProgress) -> None:
    """Through JSON, as from a STATE message: every saved field comes back as it was, and
    of `seen` the newest MAX_REVS (by `updated`, then id) are kept."""
    again = SweepProgress.from_state(json.loads(json.dumps(sweep.to_state())))
    assert again is not None
    newest = sorted(sweep.seen, key=lambda i: (sweep.seen[i][1], i))[-MAX_REVS:]
    assert again == dataclasses.replace(sweep, seen={i: sweep.seen[i] for i in newest})


def test_a_sweep_state_with_a_damaged_part_is_refused() -> None:
    at = "2024-05-01T12:00:00.000000Z"
    good = SweepProgress(version=1, started_at=datetime(2024, 5, 1, tzinfo=UTC)).to_state()
    assert SweepProgress.from_state(good) is not None
    for bad in (
        {**good, "seen": [[1, "2", at]]},
        {**good, "seen": [["1", 2, at]]},
        {**good, "seen": [[1, 2, None]]},
        {**good, "learned": []},
        {**good, "walk": []},
        {**good, "walk": {"floor": "nope"}},
        {**good, "walk": {"top": "nope"}},
        {**good, "unproven": "x"},
        {**good, "records": True},
    ):
        assert SweepProgress.from_state(bad) is None, bad


def test_beyond_max_revs_the_newest_seen_are_kept() -> None:
    """The newest by `updated`, and among equal `updated` the highest ids."""
    base = datetime(2024, 5, 1, tzinfo=UTC)
    older = {i: (1, base) for i in range(10)}  # ten at the oldest time: ids 0..9
    newer = {100 + i: (2, base.replace(second=1 + i % 50)) for i in range(MAX_REVS - 3)}
    sweep = SweepProgress(version=1, started_at=base, seen={**older, **newer})
    again = SweepProgress.from_state(json.loads(json.dumps(sweep.to_state())))
    assert again is not None
    assert set(again.seen) == set(newer) | {7, 8, 9}
