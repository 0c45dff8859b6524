"""Incremental syncs: full -> same state -> after changes -> future state, and changes mid-run."""

from __future__ import annotations

import copy

import pytest

from heymarket_sandbox import Sandbox
from tap_heymarket import timestamps
from tests.tap_runner import run_tap, sandbox_config, truth_ids

# Runs the tap as a subprocess against the sandbox: not in `make unit`.
pytestmark = pytest.mark.slow


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

        at_bookmark = {
            int(i)
            for i, u in truth["updated"].items()
            if timestamps.normalize(timestamps.parse(u)) == bookmark
        }
        kept = state["bookmarks"]["contacts"]["revs_at_bookmark"]
        assert {i for i, _ in kept} == at_bookmark

        # Same state again: nothing comes back, not even the contacts at the bookmark.
        again = run_tap(config, state=state)
        assert again.returncode == 0, again.stderr[-2000:]
        assert again.ids() == []
        assert again.bookmark() == bookmark

        # k contacts change and m appear: the next run brings exactly those, each at its
        # new rev, and nothing older than the bookmark.
        changed = sb.mutate(n=9, new=4)
        after = run_tap(config, state=again.final_state)
        assert after.returncode == 0, after.stderr[-2000:]
        truth2 = sb.truth()
        got = {r["id"]: r["rev"] for r in after.records["contacts"]}
        expected = set(changed["updated_ids"]) | set(changed["created_ids"])
        assert sorted(after.ids()) == sorted(expected)
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


def test_an_unchanged_rerun_emits_nothing() -> None:
    """The records at the bookmark are kept in STATE by (id, rev) and not emitted again.

    With timestamps in whole seconds, one batch of edits shares one `updated`: here 250
    contacts, more than the sandbox's clamped page of 100, so the group at the bookmark is
    read by `page` offsets. Tags (30 per page) go through the same walk.
    """
    with Sandbox(contacts=1500, seed=11, precision="seconds", max_limit=100, page="zero") as sb:
        top_group = sb.mutate(n=250, new=0)["updated_ids"]
        config = sandbox_config(sb.url, page_size=150)
        first = run_tap(config)
        assert first.returncode == 0, first.stderr[-2000:]
        assert set(first.ids()) == truth_ids(sb.truth())
        state = first.final_state
        assert state is not None
        kept = state["bookmarks"]["contacts"]["revs_at_bookmark"]
        assert sorted(i for i, _ in kept) == sorted(top_group)

        again = run_tap(config, state=state)
        assert again.returncode == 0, again.stderr[-2000:]
        assert again.ids("contacts") == []
        assert again.ids("tags") == []
        for stream in ("contacts", "tags"):
            assert again.final_state["bookmarks"][stream] == state["bookmarks"][stream]

        # A state written before `revs_at_bookmark` existed works as it did: the group at
        # the bookmark comes again once, and the state gains the set.
        old = copy.deepcopy(state)
        del old["bookmarks"]["contacts"]["revs_at_bookmark"]
        old_run = run_tap(config, state=old)
        assert old_run.returncode == 0, old_run.stderr[-2000:]
        assert sorted(old_run.ids()) == sorted(top_group)
        assert old_run.final_state["bookmarks"]["contacts"] == state["bookmarks"]["contacts"]

        changed = sb.mutate(n=9, new=4)
        after = run_tap(config, state=again.final_state)
        assert after.returncode == 0, after.stderr[-2000:]
        truth = sb.truth()
    expected = set(changed["updated_ids"]) | set(changed["created_ids"])
    assert len(expected) == 13
    assert sorted(after.ids()) == sorted(expected)
    assert {r["id"]: r["rev"] for r in after.records["contacts"]} == {
        i: truth["contacts"][str(i)] for i in expected
    }
    assert after.ids("tags") == []
