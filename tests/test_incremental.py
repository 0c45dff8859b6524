"""Incremental syncs: full -> same state -> after changes -> future state, and changes mid-run."""

from __future__ import annotations

from heymarket_sandbox import Sandbox
from tap_heymarket import timestamps
from tests.tap_runner import run_tap, sandbox_config, truth_ids


def _updated(record: dict) -> str:
    return record["updated"]


def test_incremental_sequence() -> None:
    with Sandbox(contacts=1200, seed=21, cursor="inclusive", precision="seconds") as sb:
        config = sandbox_config(sb.url, page_size=200)
        full = run_tap(config)
        assert full.returncode == 0, full.stderr[-2000:]
        truth = sb.truth(updated=True)
        assert set(full.ids()) == truth_ids(truth)
        bookmark = full.bookmark()
        assert bookmark is not None
        newest = max(timestamps.normalize(timestamps.parse(u)) for u in truth["updated"].values())
        assert bookmark == newest, "the bookmark is the newest updated actually read"
        state = full.final_state
        assert "walk" not in state["bookmarks"]["contacts"]
        assert "progress_markers" not in state["bookmarks"]["contacts"]

        # Same state again: only the boundary contacts (updated == bookmark) come back.
        again = run_tap(config, state=state)
        assert again.returncode == 0, again.stderr[-2000:]
        at_bookmark = {
            int(i)
            for i, u in truth["updated"].items()
            if timestamps.normalize(timestamps.parse(u)) == bookmark
        }
        assert set(again.ids()) == at_bookmark
        assert all(_updated(r) >= bookmark for r in again.records.get("contacts", []))
        assert again.bookmark() == bookmark

        # k contacts change and m appear: the next run brings exactly those (plus the
        # boundary), each at its new rev, and nothing older than the bookmark.
        changed = sb.mutate(n=9, new=4)
        after = run_tap(config, state=again.final_state)
        assert after.returncode == 0, after.stderr[-2000:]
        truth2 = sb.truth()
        got = {r["id"]: r["rev"] for r in after.records["contacts"]}
        expected = set(changed["updated_ids"]) | set(changed["created_ids"])
        assert expected <= set(got)
        assert set(got) - expected <= at_bookmark
        for contact_id in expected:
            assert got[contact_id] == truth2["contacts"][str(contact_id)]
        assert all(_updated(r) >= bookmark for r in after.records["contacts"])
        assert after.bookmark() > bookmark

        # A bookmark in the future: nothing is emitted and the bookmark stays.
        future = {
            "bookmarks": {
                "contacts": {
                    "replication_key": "updated",
                    "replication_key_value": "2099-01-01T00:00:00.000000+00:00",
                }
            }
        }
        ahead = run_tap(config, state=future)
        assert ahead.returncode == 0, ahead.stderr[-2000:]
        assert ahead.records.get("contacts", []) == []
        assert ahead.bookmark() == "2099-01-01T00:00:00.000000+00:00"


def test_start_date_limits_the_first_sync() -> None:
    with Sandbox(contacts=600, seed=4) as sb:
        truth = sb.truth(updated=True)
        start = "2025-01-01T00:00:00+00:00"
        run = run_tap(sandbox_config(sb.url, start_date=start))
    assert run.returncode == 0, run.stderr[-2000:]
    expected = {
        int(i)
        for i, u in truth["updated"].items()
        if timestamps.parse(u) >= timestamps.parse(start)
    }
    assert 0 < len(expected) < 600
    assert set(run.ids()) == expected


def test_changes_during_the_run_arrive_by_the_next_run() -> None:
    """Contacts updated and created while the tap pages through are not lost."""
    with Sandbox(
        contacts=2000,
        seed=8,
        mutate_every=2,
        mutate_count=6,
        create_count=2,
        max_limit=100,
        page="zero",
    ) as sb:
        config = sandbox_config(sb.url, page_size=150)
        first = run_tap(config)
        assert first.returncode == 0, first.stderr[-2000:]
        sb.configure(mutate_every=0)
        second = run_tap(config, state=first.final_state)
        assert second.returncode == 0, second.stderr[-2000:]
        truth = sb.truth()
    latest: dict[int, int] = {}
    for run in (first, second):
        for record in run.records.get("contacts", []):
            latest[record["id"]] = record["rev"]
    assert latest == {int(k): v for k, v in truth["contacts"].items()}
    # Only contacts that changed during the first run may appear twice in it.
    assert len(first.duplicates()) <= sum(1 for v in truth["contacts"].values() if v > 1)
