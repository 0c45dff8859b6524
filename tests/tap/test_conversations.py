"""The `conversations` stream equals the sandbox's truth under every answer the docs leave
open (docs/api.md, "Conversations"): every conversation of every inbox,
open and closed, nothing lost, no version emitted twice in a run, resumable after a kill,
and an inbox no user id can read named in a WARNING.

The tap runs as a subprocess here; the stream's column rules, its state checks, the order of
the user ids it tries, the sandbox endpoint and a 403 in the middle of a walk are tested in
process by tests/sandbox/test_conversations.py.
"""

from __future__ import annotations

import json
import random
from collections import Counter
from typing import Any

import pytest

from heymarket_dev.generated import CATALOG
from heymarket_sandbox import Sandbox
from tests.support.conversations import PAGE_SIZE, truth_of
from tests.support.singer_check import check_messages
from tests.support.tap_runner import (
    KILL_WARNINGS,
    at_record,
    run_tap,
    run_until_killed,
    sandbox_config,
)

CONVERSATIONS = 300


def conversations_catalog() -> dict[str, Any]:
    """The discovered catalog with only `conversations` selected."""
    catalog = json.loads(CATALOG.read_text())
    for stream in catalog["streams"]:
        for entry in stream["metadata"]:
            if entry["breadcrumb"] == []:
                entry["metadata"]["selected"] = stream["tap_stream_id"] == "conversations"
    return catalog


CATALOG_CONVERSATIONS = conversations_catalog()


def sync(sb: Sandbox, state: dict | None = None, *, ok: bool = True, **config: Any):
    run = run_tap(
        sandbox_config(sb.url, **{"page_size": PAGE_SIZE, **config}),
        state=state,
        catalog=CATALOG_CONVERSATIONS,
    )
    if ok:
        assert run.returncode == 0, run.stderr[-3000:]
    return run


def emitted(*runs: Any) -> dict[int, str]:
    """id -> `updated` over the runs, in order (the last one wins, as in an upsert)."""
    out: dict[int, str] = {}
    for run in runs:
        out |= {r["id"]: r["updated"] for r in run.records.get("conversations", [])}
    return out


def assert_same(got: dict[int, str], want: dict[int, str]) -> None:
    missing = sorted(set(want) - set(got))
    extra = sorted(set(got) - set(want))
    assert not missing and not extra, f"missing {missing[:8]} ({len(missing)}), extra {extra[:8]}"
    stale = [i for i in want if got[i] != want[i]]
    assert not stale, f"at an old version: {stale[:8]}"


def assert_no_version_twice(run: Any) -> None:
    """No (id, updated) is emitted twice by one run."""
    pairs = Counter((r["id"], r["updated"]) for r in run.records.get("conversations", []))
    assert not [p for p, n in pairs.items() if n > 1]


def conversation_requests(sb: Sandbox) -> dict[str, int]:
    return dict(sb.stats()["by_path"].get("/v1/conversations", {}))


# -- full syncs: every switch that matters ---------------------------------------------------

#: (id, switches, tap config)
FULL_CASES: list[tuple[str, dict[str, Any], dict[str, Any]]] = [
    ("strict-millis", {}, {}),
    ("strict-seconds", {"precision": "seconds"}, {}),
    ("inclusive-millis", {"cursor": "inclusive"}, {}),
    ("inclusive-seconds", {"cursor": "inclusive", "precision": "seconds"}, {}),
    ("date-read-to-millis", {"cursor": "inclusive", "date_precision": "millis"}, {}),
    (
        "seconds-date-read-to-seconds",
        {"cursor": "inclusive", "precision": "seconds", "date_precision": "seconds"},
        {},
    ),
    ("clamped-page-zero", {"max_limit": 20, "page": "zero"}, {"page_size": 50}),
    (
        "clamped-page-one-inclusive",
        {"max_limit": 20, "page": "one", "cursor": "inclusive"},
        {"page_size": 50},
    ),
    ("page-of-500", {}, {"page_size": 500}),
    ("types-int", {"conversation_types": "int"}, {}),
    ("types-object", {"conversation_types": "object"}, {}),
    ("closed-default-open", {"conversations_closed_default": "open"}, {}),
    ("closed-filter-ignored", {"conversations_closed_filter": "ignored"}, {}),
    ("only-the-last-member-reads", {"conversations_readers": "last"}, {}),
    ("empty-inbox-read-as-id-0", {"empty_inbox": True}, {}),
    (
        "faults",
        {"fault_5xx": 0.1, "fault_truncate": 0.05, "fault_drop": 0.05, "fault_seed": 3},
        {"max_retries": 10},
    ),
]


@pytest.mark.parametrize(
    ("switches", "config"), [c[1:] for c in FULL_CASES], ids=[c[0] for c in FULL_CASES]
)
def test_full_sync_equals_truth(switches: dict[str, Any], config: dict[str, Any]) -> None:
    with Sandbox(contacts=0, conversations=CONVERSATIONS, seed=41, **switches) as sb:
        run = sync(sb, **config)
        truth, unreachable = truth_of(sb)
        made = conversation_requests(sb)
    assert not unreachable
    assert_same(emitted(run), truth)
    assert run.duplicates("conversations") == {}
    assert "could not be read in full" not in run.stderr
    if not switches.get("fault_5xx"):
        assert "WARNING" not in run.stderr
    check_messages(run.messages)
    records = run.records["conversations"]
    for column, kind in (("inbox_id", int), ("read", bool), ("updated", str)):
        assert all(isinstance(r[column], kind) for r in records), column
    assert all(r["assigned_id"] is None or isinstance(r["assigned_id"], int) for r in records)
    named = [r for r in records if r["inbox_name"] is not None]
    objects = switches.get("conversation_types", "mixed") != "int"
    assert bool(named) == objects
    assert all(r["extra_fields"] and "labels" in r["extra_fields"] for r in records)
    if switches.get("conversations_readers") == "last":
        assert made.get("403", 0) > 0
    if switches.get("empty_inbox"):
        assert "accepts id 0" in run.stderr
        assert any(r["read_as_user_id"] == 0 for r in records)


@pytest.mark.parametrize("count", [0, 1, 2, 45])
def test_small_data_sets(count: int) -> None:
    with Sandbox(contacts=0, conversations=count, seed=42, max_limit=20, page="zero") as sb:
        run = sync(sb, page_size=10)
        truth, _ = truth_of(sb)
    assert_same(emitted(run), truth)
    assert run.duplicates("conversations") == {}
    assert "WARNING" not in run.stderr


def test_no_inboxes_no_conversation_requests() -> None:
    with Sandbox(contacts=0, conversations=50, inboxes=0) as sb:
        run = sync(sb)
        made = conversation_requests(sb)
    assert made == {} and "conversations" not in run.records
    assert "WARNING" not in run.stderr


def test_a_tie_group_the_api_will_not_page_through_is_reported_with_its_count() -> None:
    """Clamped `limit`, `page` ignored: the bulk close cannot be read past one answer."""
    with Sandbox(contacts=0, conversations=CONVERSATIONS, seed=41, max_limit=20) as sb:
        run = sync(sb, page_size=50)
        truth, _ = truth_of(sb)
        tie = sb.truth()["streams"]["conversations"]["max_tie"]
    missing = set(truth) - set(emitted(run))
    assert len(missing) == tie - 20
    assert "could not be read in full" in run.stderr
    assert f"{tie - 20} conversation(s) are missing" in run.stderr
    assert run.metric("tie_groups_incomplete")["value"] == 1
    assert run.metric("records_missed")["value"] == tie - 20


def test_an_inbox_no_one_can_read_is_named_in_a_warning() -> None:
    with Sandbox(
        contacts=0,
        conversations=CONVERSATIONS,
        seed=43,
        empty_inbox=True,
        conversations_id0="reject",
    ) as sb:
        run = sync(sb)
        again = sync(sb, state=run.final_state)
        truth, unreachable = truth_of(sb)
        entry = sb.truth()["streams"]["conversations"]
    (inbox,) = entry["unreachable_inboxes"]
    assert unreachable and set(truth) - set(emitted(run)) == unreachable
    assert_same(emitted(run), {i: u for i, u in truth.items() if i not in unreachable})
    for r in (run, again):
        warnings = [line for line in r.stderr.splitlines() if "WARNING" in line]
        assert len(warnings) == 1, warnings
        assert f"inbox {inbox} ('Overflow (unstaffed)') cannot be read" in warnings[0]
        assert "refused (HTTP 403) id 0" in warnings[0]
        assert r.metric("inboxes_unreadable")["value"] == 1
    walks = run.final_state["bookmarks"]["conversations"]["walks"]
    assert not any(key.startswith(f"{inbox}/") for key in walks)


# -- incremental runs --------------------------------------------------------------------------


@pytest.mark.parametrize("precision", ["millis", "seconds"])
def test_changes_arrive_with_the_next_run(precision: str) -> None:
    """Reopened, closed and touched conversations move to the top of the other (or the
    same) walk: the next run has each at its latest version, and only those."""
    with Sandbox(contacts=0, conversations=CONVERSATIONS, seed=44, precision=precision) as sb:
        full = sync(sb)
        first, _ = truth_of(sb)
        changed = sb.mutate(n=0, new=0, templates=0, conversations=40, new_conversations=9)
        incremental = sync(sb, state=full.final_state)
        truth, _ = truth_of(sb)
        sb.reset_stats()
        unchanged = sync(sb, state=incremental.final_state)
        made = conversation_requests(sb)
    moved = set(changed["conversation_ids"]) | set(changed["created_conversation_ids"])
    assert len(moved) == 49
    got = emitted(incremental)
    assert moved <= set(got)
    # Some were closed or reopened: they come from the other walk, with their new status.
    before = {r["id"]: r["status"] for r in full.records["conversations"]}
    after = {r["id"]: r["status"] for r in incremental.records["conversations"]}
    flipped = [i for i in changed["conversation_ids"] if before[i] != after[i]]
    assert {after[i] for i in flipped} == {"open", "closed"}
    # Besides the changes, only conversations at a walk's bookmark come again (no `rev`
    # tells an unchanged one apart): at most one tie group per walk.
    bookmarks = {
        w["replication_key_value"]
        for w in full.final_state["bookmarks"]["conversations"]["walks"].values()
    }
    assert all(first[i] in bookmarks for i in set(got) - moved)
    assert_same(emitted(full, incremental), truth)
    assert incremental.duplicates("conversations") == {}
    # A rerun with nothing changed emits only what sits at a walk's bookmark.
    latest = {
        w["replication_key_value"]
        for w in incremental.final_state["bookmarks"]["conversations"]["walks"].values()
    }
    assert all(truth[i] in latest for i in emitted(unchanged))
    # ... at the cost of one request per walk: the first answer reaches the bookmark.
    assert made == {"200": len(incremental.final_state["bookmarks"]["conversations"]["walks"])}
    assert "WARNING" not in full.stderr + incremental.stderr + unchanged.stderr


@pytest.mark.parametrize("cursor", ["strict", "inclusive"])
def test_conversations_moving_during_the_run_arrive_by_the_next_run(cursor: str) -> None:
    """Every 3rd request closes, reopens or touches 6 conversations and opens 2: a
    conversation may leave the walk in progress for one not yet read, or one done."""
    with Sandbox(
        contacts=0,
        conversations=CONVERSATIONS,
        seed=45,
        cursor=cursor,
        mutate_every=3,
        mutate_conversations=6,
        create_conversations=2,
    ) as sb:
        first = sync(sb, page_size=20)
        sb.configure(mutate_every=0)
        second = sync(sb, state=first.final_state, page_size=20)
        truth, _ = truth_of(sb)
        mutations = sb.stats()["mutations"]
    assert mutations >= 5
    for run in (first, second):
        assert_no_version_twice(run)
    assert_same(emitted(first, second), truth)
    assert "WARNING" not in first.stderr + second.stderr


def test_a_new_inbox_starts_from_the_top_and_start_date_applies() -> None:
    with Sandbox(contacts=0, conversations=CONVERSATIONS, seed=46) as sb:
        full = sync(sb)
        truth, _ = truth_of(sb)
        state = json.loads(json.dumps(full.final_state))
        walks = state["bookmarks"]["conversations"]["walks"]
        inbox = next(iter(walks)).split("/")[0]
        # As if the inbox had just been created: no entry for its walks.
        for key in [k for k in walks if k.startswith(f"{inbox}/")]:
            del walks[key]
        rerun = sync(sb, state=state)
        start = sorted(truth.values())[len(truth) // 2]
        recent = sync(sb, start_date=start)
        listed = sb.truth()["streams"]["conversations"]
    got = emitted(rerun)
    records = {r["id"]: r for r in full.records["conversations"]}
    in_inbox = {i for i, r in records.items() if str(r["inbox_id"]) == inbox}
    assert in_inbox and in_inbox <= set(got)
    # The other inboxes' walks went on from their bookmarks: only what sits at one of
    # them comes again (no `rev` tells an unchanged conversation apart).
    bookmarks = {w["replication_key_value"] for w in walks.values()}
    assert all(truth[i] in bookmarks for i in set(got) - in_inbox)
    assert listed["inboxes"][inbox] == len(in_inbox)
    assert_same(emitted(recent), {i: u for i, u in truth.items() if u >= start})


def test_a_corrupt_walk_in_state_is_refused_before_any_request() -> None:
    state = {"bookmarks": {"conversations": {"walks": {"12/open": {"walk": {"cursor": "x"}}}}}}
    with Sandbox(contacts=0, conversations=10) as sb:
        run = sync(sb, state=state, ok=False)
        made = sb.stats()["requests"]
    assert run.returncode == 1
    assert "state.bookmarks.conversations.walks.12/open.walk.cursor" in run.stderr
    assert made == 0


# -- kill and resume ---------------------------------------------------------------------------


def _run_until_killed(
    config: dict[str, Any], state: dict | None, kill_at: int | None
) -> tuple[list[dict[str, Any]], int | None, str]:
    """Only conversations selected; SIGKILL at the `kill_at`-th RECORD line (None: never):
    (messages, exit code, log)."""
    kill = at_record(kill_at) if kill_at else None
    killed = run_until_killed(
        config, state=state, catalog=CATALOG_CONVERSATIONS, kill_on_line=kill, timeout=900
    )
    return killed.messages, killed.returncode, killed.stderr


TRIALS = 8


@KILL_WARNINGS[0]
@KILL_WARNINGS[1]
def test_kill_and_resume_loses_nothing() -> None:
    """Full and incremental runs killed at random moments, resumed from the last STATE:
    each trial's runs together hold every conversation at its latest version."""
    rng = random.Random(2027)
    kills = resumed = 0
    with Sandbox(
        contacts=0,
        conversations=900,
        seed=47,
        max_limit=40,
        page="zero",
        latency_ms=40,
        empty_inbox=True,
    ) as sb:
        config = sandbox_config(sb.url, page_size=50)
        state: dict | None = None
        for trial in range(TRIALS):
            expected, _ = truth_of(sb)
            if trial % 2 == 1:
                changed = sb.mutate(n=0, new=0, templates=0, conversations=30, new_conversations=8)
                expected, _ = truth_of(sb)
                wanted = set(changed["conversation_ids"]) | set(changed["created_conversation_ids"])
            else:
                state, wanted = None, set(expected)
            seen: dict[int, str] = {}
            for attempt in range(30):
                # Killed at a random one of the conversations still owed (the run must write
                # them all), so the kill comes mid-run however fast the machine is.
                owed = len(wanted - set(seen))
                kill_at = rng.randint(1, owed) if attempt < 4 and owed else None
                messages, returncode, log = _run_until_killed(config, state, kill_at)
                resumed += "resuming an interrupted walk" in log
                for m in messages:
                    if m["type"] == "RECORD":
                        seen[m["record"]["id"]] = m["record"]["updated"]
                states = [m["value"] for m in messages if m["type"] == "STATE"]
                if states:
                    state = states[-1]
                if returncode == 0:
                    break
                kills += 1
            else:
                pytest.fail("the sync never completed")
            lost = wanted - set(seen)
            assert not lost, f"trial {trial}: lost {sorted(lost)[:8]}"
            stale = [i for i in wanted if seen[i] != expected[i]]
            assert not stale, f"trial {trial}: old versions {stale[:8]}"
    assert kills >= TRIALS, "most trials should have been interrupted, some more than once"
    assert resumed >= 2, "killed walks should have resumed where they stood"
    print(f"conversations kill/resume: {TRIALS} trials, {kills} kills, {resumed} resumed, 0 lost")
