"""What a delete sweep keeps in STATE (tap_heymarket/deletes.py), in process."""

from __future__ import annotations

from datetime import UTC, datetime

from tap_heymarket.deletes import SweepProgress


def test_a_sweep_state_round_trips_and_a_foreign_one_is_refused() -> None:
    """What a sweep keeps in STATE (tap_heymarket/deletes.py) comes back as it was; an entry
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
