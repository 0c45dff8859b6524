"""The sandbox's `POST /v1/messages/all` and its count obey their switches (fast, in-process)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from heymarket_sandbox import Sandbox
from tap_heymarket import timestamps

PAST, FUTURE = "2000-01-01T00:00:00Z", "2999-01-01T00:00:00Z"


@pytest.fixture(scope="module")
def sb() -> Iterator[Sandbox]:
    with Sandbox(contacts=0, messages=600, seed=61) as sandbox:
        yield sandbox


@pytest.fixture(scope="module")
def http() -> Iterator[requests.Session]:
    with requests.Session() as session:
        session.trust_env = False
        yield session


def ask(http: requests.Session, sb: Sandbox, path: str = "/v1/messages/all", **body: Any) -> Any:
    r = http.post(sb.url + path, json=body, headers=sb.auth_headers(), timeout=30)
    assert r.status_code == 200, r.text
    return r.json()


def parse(value: str) -> Any:
    return timestamps.parse(value)


@pytest.fixture
def switches(sb: Sandbox) -> Iterator[Any]:
    """Reconfigure the shared sandbox for one test, then restore its message switches."""
    keep = {k: v for k, v in sb.config().items() if k.startswith("messages_") or k in ("cursor",)}
    yield sb.configure
    sb.configure(**keep)


def test_data_shape_ties_and_timestamps(http: requests.Session, sb: Sandbox) -> None:
    messages = ask(http, sb, limit=1000)
    assert len(messages) == 600
    keys = {"id", "date", "updated", "status", "conversation", "channel", "targets", "raw_error"}
    assert all(keys <= set(m) for m in messages)
    assert any("segments" in m for m in messages), "undocumented fields for extra_fields"
    fractions = Counter(len(m["date"].rstrip("Z").partition(".")[2]) for m in messages)
    assert {0, 3, 6} <= set(fractions), fractions
    assert all(parse(m["updated"]) >= parse(m["date"]) for m in messages)
    dates = [parse(m["date"]) for m in messages]
    assert dates == sorted(dates, reverse=True), "newest first by `date`, as instants"
    truth = sb.truth()["streams"]["messages"]
    assert max(b["size"] for b in truth["broadcasts"]) > 200
    assert truth["max_tie_date"] > 200 and truth["max_tie_updated"] > 100
    assert truth["ids"] == {str(m["id"]): m["updated"] for m in messages}
    by_updated = max(messages, key=lambda m: parse(m["updated"]))
    assert by_updated["id"] != messages[0]["id"], "the newest change is to an older message"


def test_cursor_field_and_meaning(http: requests.Session, sb: Sandbox, switches: Any) -> None:
    newest = ask(http, sb, limit=1)
    assert ask(http, sb, created_at=PAST, limit=1) == []  # before, on created_at
    assert ask(http, sb, date="not even a date", limit=1) == newest  # the other name: ignored
    switches(messages_cursor_field="date")
    assert ask(http, sb, date=PAST, limit=1) == []
    assert ask(http, sb, created_at=PAST, limit=1) == newest
    switches(messages_cursor="after")
    assert ask(http, sb, date=FUTURE, limit=1) == []
    assert ask(http, sb, date=PAST, limit=1) == newest, "a lower bound: still the newest"
    oldest = ask(http, sb, date=PAST, ascending=True, limit=1)
    assert parse(oldest[0]["date"]) < parse(newest[0]["date"])
    switches(messages_ascending="ignored")
    assert ask(http, sb, date=PAST, ascending=True, limit=1) == newest


def test_strict_and_inclusive_both_ways(http: requests.Session, sb: Sandbox, switches: Any) -> None:
    top = ask(http, sb, limit=5)
    at = parse(top[2]["date"])
    exact = {"created_at": top[2]["date"], "limit": 5}
    for bound, inclusive, expect, above in (
        ("before", False, lambda d: d < at, None),
        ("before", True, lambda d: d <= at, None),
        ("after", False, lambda d: d > at, 2),
        ("after", True, lambda d: d >= at, 3),
    ):
        switches(messages_cursor=bound, cursor="inclusive" if inclusive else "strict")
        got = ask(http, sb, **exact)
        assert got and all(expect(parse(m["date"])) for m in got), (bound, inclusive)
        count = ask(http, sb, "/v1/messages/all/count", **exact)
        assert isinstance(count, str), "the count is a JSON string"
        if above is not None:
            assert int(count) == len(got) == above


def test_order_and_what_the_cursor_filters(
    http: requests.Session, sb: Sandbox, switches: Any
) -> None:
    ordered = ask(http, sb, order="updated_at", limit=50)
    updated = [parse(m["updated"]) for m in ordered]
    assert updated == sorted(updated, reverse=True)
    pivot = parse(ordered[10]["updated"])
    cut = timestamps.to_api(pivot, timestamps.MICROSECOND)
    on_created = ask(http, sb, order="updated_at", created_at=cut, limit=1000)
    assert all(parse(m["date"]) < pivot for m in on_created)
    assert any(parse(m["updated"]) >= pivot for m in on_created), "filtered on `date` only"
    switches(messages_order_cursor="ordered")
    on_updated = ask(http, sb, order="updated_at", created_at=cut, limit=1000)
    assert all(parse(m["updated"]) < pivot for m in on_updated)
    switches(messages_order="ignored")
    assert ask(http, sb, order="updated_at", limit=50) == ask(http, sb, limit=50)


def test_mutations_move_updated_and_send_messages(http: requests.Session) -> None:
    with Sandbox(contacts=0, messages=50, seed=62, mutate_every=2, create_messages=1) as sb:
        before = sb.truth()["streams"]["messages"]
        changed = sb.mutate(n=0, new=0, messages=2, new_messages=1)
        top = ask(http, sb, order="updated_at", limit=3)
        assert {m["id"] for m in top} == set(
            changed["message_ids"] + changed["created_message_ids"]
        )
        assert top[0]["id"] == changed["created_message_ids"][0]
        assert top[0]["date"] == top[0]["updated"]
        truth = sb.truth()["streams"]["messages"]
        for i in changed["message_ids"]:
            assert parse(truth["ids"][str(i)]) > parse(before["ids"][str(i)])
        ask(http, sb)  # the 2nd request (mutate_every=2): one more message
        assert sb.truth()["streams"]["messages"]["count"] == 52
        assert sb.stats()["mutations"] == 2


def test_clamp_and_page_apply(http: requests.Session) -> None:
    with Sandbox(contacts=0, messages=40, seed=63, max_limit=7, page="one") as sb:
        first = ask(http, sb, limit=100)
        assert len(first) == 7
        assert ask(http, sb, limit=100, page=1) == first
        second = ask(http, sb, limit=100, page=2)
        assert not {m["id"] for m in first} & {m["id"] for m in second}
        assert ask(http, sb, "/v1/messages/all/count") == "40"


def test_deterministic_by_seed(http: requests.Session) -> None:
    with (
        Sandbox(contacts=0, messages=30, seed=64) as a,
        Sandbox(contacts=0, messages=30, seed=64) as b,
    ):
        assert ask(http, a, limit=30) == ask(http, b, limit=30)
