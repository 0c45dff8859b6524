"""The `conversations` stream equals the sandbox's truth under every answer the docs leave
open (docs/api.md, "Conversations"): every conversation of every inbox,
open and closed, nothing lost, no version emitted twice in a run, resumable after a kill,
and an inbox no user id can read named in a WARNING.

The in-process tests (the stream's column rules, its state checks, the order of the user
ids it tries, the sandbox endpoint, a 403 in the middle of a walk) are fast; the tap runs
as a subprocess in the others, marked slow.
"""

from __future__ import annotations

import json
import random
from collections import Counter
from typing import Any

import pytest
import requests

from heymarket_dev.generated import CATALOG
from heymarket_sandbox import Sandbox
from tap_heymarket import timestamps
from tap_heymarket.conversation_streams import ConversationsStream
from tap_heymarket.inbox_access import InboxAccess
from tap_heymarket.state import conversation_state_errors
from tap_heymarket.tap import TapHeymarket
from tests.support.singer_check import check_messages
from tests.support.tap_runner import (
    KILL_WARNINGS,
    at_record,
    run_tap,
    run_until_killed,
    sandbox_config,
)

CONVERSATIONS = 300
PAGE_SIZE = 25
#: Subprocess tests: `@SLOW` (the in-process ones are not marked).
SLOW = pytest.mark.slow


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


def truth_of(sb: Sandbox) -> tuple[dict[int, str], set[int]]:
    """(id -> `updated` normalised like the tap's output, ids no user id can read)."""
    entry = sb.truth()["streams"]["conversations"]
    ids = {int(k): timestamps.normalize(timestamps.parse(v)) for k, v in entry["ids"].items()}
    assert entry["count"] == len(ids)
    return ids, set(entry["unreachable"])


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


# -- in process: the columns ---------------------------------------------------------------


@pytest.fixture(scope="module")
def stream() -> ConversationsStream:
    tap = TapHeymarket(config=sandbox_config("http://127.0.0.1:9"), parse_env_config=False)
    return t_cast(tap.streams["conversations"])


def t_cast(value: Any) -> ConversationsStream:
    assert isinstance(value, ConversationsStream)
    return value


def _emitted(stream: ConversationsStream, row: dict[str, Any]) -> dict[str, Any]:
    """The record as it leaves the tap: post_process, then conformance.py."""
    processed = stream.post_process(row)
    assert processed is not None
    return stream.conformer().conform(processed)


def test_references_become_one_type_per_column(stream: ConversationsStream) -> None:
    as_ids = _emitted(
        stream, {"id": 1, "updated": "x", "inbox": 7, "assigned": "12", "creator": 3, "read": 1}
    )
    as_objects = _emitted(
        stream,
        {
            "id": 2,
            "updated": "x",
            "inbox": {"id": 7, "name": "Main"},
            "assigned": {"id": 12, "name": "Ana", "email": "ana@example.com"},
            "creator": {"id": 3, "name": "Bo", "avatar": "a.png"},
            "read": False,
        },
    )
    assert as_ids is not None and as_objects is not None
    assert (as_ids["inbox_id"], as_ids["assigned_id"], as_ids["creator_id"]) == (7, 12, 3)
    assert as_ids["inbox_name"] is None and as_ids["read"] is True
    assert (as_objects["inbox_id"], as_objects["inbox_name"]) == (7, "Main")
    assert as_objects["assigned_email"] == "ana@example.com" and as_objects["read"] is False
    # An object with more than the columns hold is also kept whole.
    assert as_objects["extra_fields"] == {"creator": {"id": 3, "name": "Bo", "avatar": "a.png"}}
    # Every column in every record, whatever the answer held.
    assert set(as_ids) == set(as_objects) == set(stream.schema["properties"])
    assert as_ids["extra_fields"] is None
    unassigned = _emitted(stream, {"id": 3, "updated": "x", "assigned": None, "read": 0})
    assert unassigned is not None
    assert unassigned["assigned_id"] is None and unassigned["read"] is False


def test_values_that_do_not_fit_their_column_are_kept_in_extra_fields(
    stream: ConversationsStream, caplog: pytest.LogCaptureFixture
) -> None:
    stream._type_warnings.clear()
    stream._conformer = None  # a new run: warnings again
    row = _emitted(
        stream,
        {
            "id": 4,
            "updated": "x",
            "inbox": [7],
            "read": 1714000000,
            "last_inbound": True,
            "snooze_till": "2024-05-01T12:00:00.5Z",
            "created": "not a date",
            "target": 14155550000,
            "blocked": "no",
            "members": [715, {"id": "716", "name": "Ana"}],
            "priority": "high",
        },
    )
    assert row is not None
    assert row["inbox_id"] is None
    assert row["read"] is True  # a non-zero integer: read; the integer is kept as sent
    assert row["snooze_till"] == "2024-05-01T12:00:00.500000+00:00"
    assert row["target"] == "14155550000"
    assert row["members"] == [{"id": 715}, {"id": 716, "name": "Ana"}]
    assert (row["last_inbound"], row["created"], row["blocked"]) == (None, None, False)
    assert row["extra_fields"] == {
        "inbox": [7],
        "read": 1714000000,
        "last_inbound": True,
        "created": "not a date",
        "priority": "high",
    }
    warned = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert any(
        "`last_inbound` came as a boolean where the schema declares null or string" in m
        for m in warned
    )


# -- in process: user ids and state ----------------------------------------------------------


def test_user_ids_are_tried_members_in_the_team_first_then_zero() -> None:
    access = InboxAccess.build({"id": 9, "name": "A", "members": [5, "6", 7, "x", 5]}, [7, 6])
    assert access.candidates == [6, 7, 5, 0]
    assert access.current(skip_zero=False) == 6
    for member in (6, 7, 5):
        access.reject(member)
    assert access.current(skip_zero=False) == 0
    # Once id 0 has been refused for another inbox, it is not asked again.
    assert access.current(skip_zero=True) is None
    empty = InboxAccess.build({"id": 10, "members": None}, [])
    assert empty.candidates == [0] and empty.members == []


def test_corrupt_walks_in_state_are_named() -> None:
    good = {"replication_key_value": "2024-01-01T00:00:00+00:00", "revs_at_bookmark": []}
    assert conversation_state_errors({"bookmarks": {"conversations": {"walks": {}}}}) == []
    assert (
        conversation_state_errors({"bookmarks": {"conversations": {"walks": {"9/open": good}}}})
        == []
    )
    state = {
        "bookmarks": {
            "conversations": {
                "walks": {
                    "9/sideways": good,
                    "9/open": {"replication_key_value": "yesterday"},
                    "9/closed": {"walk": {"cursor": "soon", "kind": "up"}},
                }
            }
        }
    }
    errors = conversation_state_errors(state)
    assert any("'9/sideways'" in e for e in errors)
    assert any("conversations.walks.9/open.replication_key_value" in e for e in errors)
    assert any("conversations.walks.9/closed.walk.cursor" in e for e in errors)
    assert any("conversations.walks.9/closed.walk.kind" in e for e in errors)
    bad_shape = {"bookmarks": {"conversations": {"walks": []}}}
    assert conversation_state_errors(bad_shape) == [
        "state.bookmarks.conversations.walks must be an object, got a list"
    ]


# -- in process: the sandbox endpoint --------------------------------------------------------


def _post(session: requests.Session, sb: Sandbox, body: dict, path: str = "/v1/conversations"):
    return session.post(sb.url + path, json=body, headers=sb.auth_headers(), timeout=30)


@pytest.fixture
def http() -> Any:
    with requests.Session() as session:
        session.trust_env = False
        yield session


def test_sandbox_requires_a_member_and_inboxes(http: requests.Session) -> None:
    with Sandbox(contacts=0, conversations=200, seed=3, empty_inbox=True) as sb:
        inboxes = http.get(sb.url + "/v1/inboxes", headers=sb.auth_headers(), timeout=30).json()
        first, empty = inboxes[0], inboxes[-1]
        member = first["members"][0]
        assert empty["members"] == []
        for body in ({}, {"id": member}, {"filters": {"inboxes": [first["id"]]}}):
            r = _post(http, sb, body)
            assert r.status_code == 400 and r.json()["error"] == "bad_data", body
        bad = {"id": member, "filters": {"inboxes": []}}
        assert _post(http, sb, bad).status_code == 400
        outsider = next(m for i in inboxes for m in i["members"] if m not in first["members"])
        r = _post(http, sb, {"id": outsider, "filters": {"inboxes": [first["id"]]}})
        assert r.status_code == 403 and r.json()["error"] == "forbidden"
        zero = {"id": 0, "filters": {"inboxes": [empty["id"]]}}
        assert _post(http, sb, zero).status_code == 200
        sb.configure(conversations_id0="reject")
        assert _post(http, sb, zero).status_code == 403
        truth = sb.truth()["streams"]["conversations"]
        assert truth["unreachable_inboxes"] == [empty["id"]]
        assert len(truth["unreachable"]) == truth["inboxes"][str(empty["id"])] > 0


def test_sandbox_closed_filter_default_and_types(http: requests.Session) -> None:
    with Sandbox(contacts=0, conversations=200, seed=4) as sb:
        inbox = http.get(sb.url + "/v1/inboxes", headers=sb.auth_headers(), timeout=30).json()[0]
        base = {"id": inbox["members"][0], "limit": 1000}

        def ask(**filters: Any) -> list[dict[str, Any]]:
            body = {**base, "filters": {"inboxes": [inbox["id"]], **filters}}
            r = _post(http, sb, body)
            assert r.status_code == 200, r.text
            return list(r.json())

        every, open_, closed = ask(), ask(closed=False), ask(closed=True)
        assert {c["status"] for c in open_} == {"open"}
        assert {c["status"] for c in closed} == {"closed"}
        assert len(every) == len(open_) + len(closed)
        updated = [timestamps.parse(c["updated"]) for c in every]
        assert updated == sorted(updated, reverse=True)
        # A bulk close in the first inbox: more closed conversations share one `updated`
        # than a page of 25 holds.
        assert max(Counter(c["updated"] for c in closed).values()) > PAGE_SIZE
        count = _post(
            http,
            sb,
            {**base, "filters": {"inboxes": [inbox["id"]], "closed": True}},
            "/v1/conversations/count",
        )
        assert count.json() == str(len(closed))
        # Mixed types by default: ids and objects, 0/1 and booleans.
        assert {type(c["inbox"]) for c in every} == {int, dict}
        assert {type(c["read"]) for c in every} == {int, bool}
        sb.configure(conversations_closed_default="open")
        assert len(ask()) == len(open_)
        sb.configure(conversations_closed_filter="ignored")
        assert len(ask(closed=True)) == len(every)
        sb.configure(conversation_types="object")
        assert all(isinstance(c["inbox"], dict) and isinstance(c["read"], bool) for c in ask())
        # A mutation moves conversations between the lists, each to the top of its list.
        sb.configure(
            conversations_closed_default="all",
            conversations_closed_filter="honoured",
            conversation_types="int",
        )
        before = {c["id"]: c for c in every}
        changed = sb.mutate(n=0, new=0, templates=0, conversations=20)["conversation_ids"]
        after = {c["id"]: c for c in ask()}
        moved = [i for i in changed if i in before and before[i]["status"] != after[i]["status"]]
        assert moved, "some conversations should have been closed or reopened"
        newest = ask()[: len([i for i in changed if i in before])]
        assert {c["id"] for c in newest} == {i for i in changed if i in before}


def test_a_403_in_the_middle_of_a_walk_moves_on_to_the_next_member(
    http: requests.Session,
) -> None:
    """The walk goes on where it stood, as the next user id; nothing is lost or repeated."""
    with Sandbox(contacts=0, conversations=600, seed=5) as sb:
        inboxes = http.get(sb.url + "/v1/inboxes", headers=sb.auth_headers(), timeout=30).json()
        sizes = sb.truth()["streams"]["conversations"]["inboxes"]
        shared = [i for i in inboxes if len(i["members"]) > 1]
        target = max(shared, key=lambda i: sizes[str(i["id"])])
        tap = TapHeymarket(config=sandbox_config(sb.url, page_size=10), parse_env_config=False)
        stream = t_cast(tap.streams["conversations"])
        got: list[int] = []
        read_as: dict[str, list[int]] = {}
        for record in stream.request_records(None):
            got.append(record["id"])
            walk = stream._walk
            assert walk is not None
            seen = read_as.setdefault(walk.key, [])
            seen.append(record["read_as_user_id"])
            if walk.key == f"{target['id']}/open" and len(seen) == 12:
                # From now on only the last member of each inbox may read it.
                sb.configure(conversations_readers="last")
        truth, _ = truth_of(sb)
        refused = sb.stats()["by_path"]["/v1/conversations"].get("403", 0)
    assert refused >= 1
    assert len(got) == len(set(got)) and set(got) == set(truth)
    # The walk in progress finished as the inbox's last member, from where it stood.
    walk = read_as[f"{target['id']}/open"]
    assert walk[0] != target["members"][-1] and walk[-1] == target["members"][-1]
    assert len(walk) > 30


def test_a_conversation_closed_between_its_two_walks_comes_again_at_its_new_version() -> None:
    """Closed after the open walk emitted it, before the closed walk began: the closed walk
    finds it at the top and emits it again (a newer version), in the same run."""
    with Sandbox(contacts=0, conversations=200, seed=6) as sb:
        assert sb.server is not None
        state = sb.server.state
        tap = TapHeymarket(config=sandbox_config(sb.url, page_size=10), parse_env_config=False)
        stream = t_cast(tap.streams["conversations"])
        first_inbox = state.world.inboxes[0]["id"]
        open_ids = [
            c["id"]
            for c in state.world.conversations.items
            if c["inbox"] == first_inbox and not c["closed"]
        ]
        versions: list[tuple[int, str, str]] = []
        flipped: list[int] = []
        for record in stream.request_records(None):
            walk = stream._walk
            assert walk is not None
            versions.append((record["id"], record["updated"], walk.key))
            read_open = {i for i, _, key in versions if key == f"{first_inbox}/open"}
            if not flipped and read_open == set(open_ids):
                # The open walk has emitted every open conversation of the inbox.
                with state.lock:
                    flipped = state.world.conversations.flip(open_ids[:5])
        truth, _ = truth_of(sb)
    assert len(flipped) == 5
    again = [(i, u) for i, u, key in versions if i in flipped and key.endswith("/closed")]
    assert {i for i, _ in again} == set(flipped)
    assert all(timestamps.parse(u) == timestamps.parse(truth[i]) for i, u in again)
    pairs = Counter((i, u) for i, u, _ in versions)
    assert max(pairs.values()) == 1, "no version twice"


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


@SLOW
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


@SLOW
@pytest.mark.parametrize("count", [0, 1, 2, 45])
def test_small_data_sets(count: int) -> None:
    with Sandbox(contacts=0, conversations=count, seed=42, max_limit=20, page="zero") as sb:
        run = sync(sb, page_size=10)
        truth, _ = truth_of(sb)
    assert_same(emitted(run), truth)
    assert run.duplicates("conversations") == {}
    assert "WARNING" not in run.stderr


@SLOW
def test_no_inboxes_no_conversation_requests() -> None:
    with Sandbox(contacts=0, conversations=50, inboxes=0) as sb:
        run = sync(sb)
        made = conversation_requests(sb)
    assert made == {} and "conversations" not in run.records
    assert "WARNING" not in run.stderr


@SLOW
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


@SLOW
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


@SLOW
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


@SLOW
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


@SLOW
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


@SLOW
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


@SLOW
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
