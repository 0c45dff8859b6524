"""Incremental syncs: full -> same state -> after changes -> future state, and changes mid-run."""

from __future__ import annotations

import copy

import pytest

from heymarket_sandbox import Sandbox
from tap_heymarket import timestamps
from tests.support.tap_runner import run_tap, sandbox_config, truth_ids


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


#: Incremental streams walked by `updated`, each with its `updated` in the sandbox's truth.
WALKED = ("contacts", "tags")


def _emitted_since(truth: dict, stream: str, floor: str) -> set[int]:
    """Ids of the stream's records updated at or after `floor`."""
    at = timestamps.parse(floor)
    updated = truth["streams"][stream]["updated"]
    return {int(i) for i, u in updated.items() if timestamps.parse(u) >= at}


def _sorted_updated(truth: dict, stream: str) -> list[str]:
    return sorted(set(truth["streams"][stream]["updated"].values()), key=timestamps.parse)


@pytest.mark.parametrize("later", ["start_date", "bookmark"])
def test_the_floor_is_the_later_of_bookmark_and_start_date(later: str) -> None:
    """A bookmark older than `start_date` does not pull in records before `start_date`; a
    bookmark newer than it does not pull in records before the bookmark. Both values are
    `updated` values of real records, so each also checks "at or after"."""
    with Sandbox(contacts=800, seed=4) as sb:
        truth = sb.truth(updated=True)
        contacts = _sorted_updated(truth, "contacts")
        start = contacts[len(contacts) // 2]
        bookmarks = {}
        for stream in WALKED:
            values = _sorted_updated(truth, stream)
            older = [u for u in values if timestamps.parse(u) < timestamps.parse(start)]
            newer = [u for u in values if timestamps.parse(u) > timestamps.parse(start)]
            assert len(older) >= 3 and len(newer) >= 3, stream
            # Well away from `start_date`: records lie between the two.
            bookmarks[stream] = older[len(older) // 2] if later == "start_date" else newer[1]
        state = {
            "bookmarks": {
                stream: {"replication_key": "updated", "replication_key_value": bookmark}
                for stream, bookmark in bookmarks.items()
            }
        }
        run = run_tap(sandbox_config(sb.url, start_date=start), state=state)
    assert run.returncode == 0, run.stderr[-2000:]
    for stream in WALKED:
        floor = start if later == "start_date" else bookmarks[stream]
        earlier = bookmarks[stream] if later == "start_date" else start
        expected = _emitted_since(truth, stream, floor)
        assert expected, stream
        assert expected < _emitted_since(truth, stream, earlier), "no record between the two"
        assert sorted(run.ids(stream)) == sorted(expected), stream
        assert run.bookmark(stream) == timestamps.normalize(
            max(timestamps.parse(truth["streams"][stream]["updated"][str(i)]) for i in expected)
        )


def test_the_records_at_the_bookmark_are_known_by_id_and_rev() -> None:
    """The records at exactly the bookmark are skipped while their rev is unchanged and
    emitted when it changed, even though their `updated` did not move (two writes within
    one second, at `precision` seconds)."""
    with Sandbox(contacts=1000, seed=13, precision="seconds") as sb:
        top_group = sb.mutate(n=40, new=0)["updated_ids"]  # one batch: one `updated`
        config = sandbox_config(sb.url, page_size=100)
        first = run_tap(config)
        assert first.returncode == 0, first.stderr[-2000:]
        bookmark = first.bookmark()
        truth = sb.truth(updated=True)
        at_bookmark = {
            int(i)
            for i, u in truth["updated"].items()
            if timestamps.normalize(timestamps.parse(u)) == bookmark
        }
        assert at_bookmark == set(top_group)

        # Unchanged: nothing comes again (docs/paging-and-state.md: "an unchanged rerun emits
        # nothing").
        again = run_tap(config, state=first.final_state)
        assert again.returncode == 0, again.stderr[-2000:]
        assert again.ids() == []
        assert (
            again.final_state["bookmarks"]["contacts"] == first.final_state["bookmarks"]["contacts"]
        )

        # Three of the group written again in the same second: same `updated`, new rev.
        rewritten = sb.mutate(n=0, new=0, rewrite_ids=top_group[:3])["rewritten_ids"]
        revs = sb.truth()["contacts"]
        after = run_tap(config, state=again.final_state)
        assert after.returncode == 0, after.stderr[-2000:]
        assert sorted(after.ids()) == sorted(rewritten)
        assert after.revs("contacts") == {i: revs[str(i)] for i in rewritten}
        assert after.bookmark() == bookmark
        kept = dict(map(tuple, after.final_state["bookmarks"]["contacts"]["revs_at_bookmark"]))
        assert kept == {i: revs[str(i)] for i in top_group}

        # And once emitted at their new rev, they are known again.
        last = run_tap(config, state=after.final_state)
        assert last.returncode == 0, last.stderr[-2000:]
        assert last.ids() == []
