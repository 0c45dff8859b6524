"""The `conversations` stream in process (docs/api.md, "Conversations"): its column rules,
its state checks, the order of the user ids it tries, the sandbox's endpoint, a 403 in the
middle of a walk, a conversation closed between its two walks. The tap as a subprocess
against the sandbox: tests/tap/test_conversations.py.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
import requests

from heymarket_sandbox import Sandbox
from tap_heymarket import timestamps
from tap_heymarket.conversation_streams import ConversationsStream
from tap_heymarket.inbox_access import InboxAccess
from tap_heymarket.state import conversation_state_errors
from tap_heymarket.tap import TapHeymarket
from tests.support.conversations import PAGE_SIZE, truth_of
from tests.support.tap_runner import sandbox_config

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
        "state.bookmarks.conversations.walks must be an object, got an array"
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
