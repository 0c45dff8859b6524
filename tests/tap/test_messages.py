"""The `messages` stream against the sandbox, under every reading the docs leave open.

The sandbox's message switches (see docs/sandbox.md) choose the cursor's field name
(`created_at` or `date`), its meaning (`before` or `after`), `<`/`>` or `<=`/`>=`, whether
`order: updated_at` and `ascending` are honoured, and whether the cursor then filters on
`updated`; `max_limit` clamps and `page` offsets apply as for contacts. Its data holds a
broadcast of more than 200 messages on one `date`, a batch of more than 100 status updates
on one `updated`, and timestamps with 0 to 6 fraction digits.

Each test runs the tap with only `messages` selected and judges it by what it emitted
against `truth()["streams"]["messages"]` (`{id: updated}`).
"""

from __future__ import annotations

import json
import math
import random
from datetime import timedelta
from typing import Any

import pytest

from heymarket_dev.generated import CATALOG
from heymarket_sandbox import Sandbox
from tap_heymarket import timestamps
from tests.support.singer_check import check_messages
from tests.support.tap_runner import (
    KILL_WARNINGS,
    run_tap,
    run_until_killed,
    sandbox_config,
)

MESSAGES = 600
PAGE_SIZE = 150
CLAMP = 100


def messages_catalog() -> dict[str, Any]:
    """The discovered catalog with only `messages` selected."""
    catalog = json.loads(CATALOG.read_text())
    for stream in catalog["streams"]:
        for entry in stream["metadata"]:
            if entry["breadcrumb"] == []:
                entry["metadata"]["selected"] = stream["tap_stream_id"] == "messages"
    return catalog


CATALOG_MESSAGES = messages_catalog()


def sync(sb: Sandbox, state: dict | None = None, **config: Any):
    run = run_tap(
        sandbox_config(sb.url, **{"page_size": PAGE_SIZE, **config}),
        state=state,
        catalog=CATALOG_MESSAGES,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    return run


def truth_updated(sb: Sandbox) -> dict[int, str]:
    """id -> `updated`, normalised like the tap's output (never compared as API strings)."""
    ids = sb.truth()["streams"]["messages"]["ids"]
    return {int(k): timestamps.normalize(timestamps.parse(v)) for k, v in ids.items()}


def emitted(run) -> dict[int, str]:
    """id -> `updated` of the run's messages (the last one wins)."""
    return {r["id"]: r["updated"] for r in run.records.get("messages", [])}


def strategy_of(run) -> str:
    for line in run.stderr.splitlines():
        if "messages: strategy " in line:
            return line.split("messages: strategy ", 1)[1].split(":", 1)[0]
    raise AssertionError("no strategy in the tap's log")


def requests_made(sb: Sandbox) -> int:
    return sum(sb.stats()["by_path"].get("/v1/messages/all", {}).values())


# -- full syncs -------------------------------------------------------------------------

A = {"messages_cursor": "after"}
ORDERED = {"messages_order_cursor": "ordered"}
NO_ORDER = {"messages_order": "ignored"}
NO_ASC = {"messages_ascending": "ignored"}
INCL = {"cursor": "inclusive"}
DATE = {"messages_cursor_field": "date"}


def clamp(page: str) -> dict[str, Any]:
    return {"max_limit": CLAMP, "page": page}


#: (id, switches, the strategy the probe must choose, whether the API allows no loss)
MATRIX: list[tuple[str, dict[str, Any], str, bool]] = [
    ("upd-desc", ORDERED, "updated-desc", True),
    ("upd-desc-incl-date", {**ORDERED, **INCL, **DATE}, "updated-desc", True),
    ("upd-desc-clamp-page0", {**ORDERED, **INCL, **clamp("zero")}, "updated-desc", True),
    ("upd-desc-clamp-nopage", {**ORDERED, **clamp("ignore")}, "updated-desc", False),
    ("upd-asc", {**A, **ORDERED}, "updated-asc", True),
    ("upd-asc-incl-date", {**A, **ORDERED, **INCL, **DATE}, "updated-asc", True),
    ("upd-asc-clamp-page1", {**A, **ORDERED, **clamp("one")}, "updated-asc", True),
    ("upd-asc-clamp-nopage", {**A, **ORDERED, **INCL, **clamp("ignore")}, "updated-asc", False),
    ("upd-offset-after", {**A, **NO_ASC, "page": "zero"}, "updated-offset", True),
    ("upd-offset-before-clamp", {**INCL, **clamp("one")}, "updated-offset", True),
    (
        "upd-offset-ordered-clamp",
        {**A, **NO_ASC, **ORDERED, **clamp("zero")},
        "updated-offset",
        True,
    ),
    ("created-desc", {}, "created-desc", True),
    ("created-desc-incl-date", {**NO_ORDER, **INCL, **DATE}, "created-desc", True),
    ("created-desc-clamp-page0", {**NO_ORDER, **clamp("zero")}, "created-desc", True),
    ("created-desc-clamp-nopage", {**NO_ORDER, **clamp("ignore")}, "created-desc", False),
    ("created-asc", {**A, **NO_ORDER}, "created-asc", True),
    (
        "created-asc-incl-clamp-page1",
        {**A, **NO_ORDER, **INCL, **clamp("one")},
        "created-asc",
        True,
    ),
    (
        "created-asc-clamp-nopage",
        {**A, **NO_ORDER, **DATE, **clamp("ignore")},
        "created-asc",
        False,
    ),
    ("created-offset", {**A, **NO_ASC, **NO_ORDER, "page": "zero"}, "created-offset", True),
    ("created-offset-clamp", {**A, **NO_ASC, **NO_ORDER, **clamp("one")}, "created-offset", True),
    ("updated-top", {**A, **NO_ASC}, "updated-top", True),
    ("updated-top-clamp", {**A, **NO_ASC, **INCL, **clamp("ignore")}, "updated-top", False),
    ("created-top", {**A, **NO_ASC, **NO_ORDER, **DATE}, "created-top", True),
    ("created-top-clamp", {**A, **NO_ASC, **NO_ORDER, **clamp("ignore")}, "created-top", False),
]


@pytest.mark.parametrize(
    ("switches", "strategy", "lossless"),
    [m[1:] for m in MATRIX],
    ids=[m[0] for m in MATRIX],
)
def test_full_sync_equals_truth(switches: dict[str, Any], strategy: str, lossless: bool) -> None:
    with Sandbox(contacts=0, messages=MESSAGES, seed=51, **switches) as sb:
        messages = sb.truth()["streams"]["messages"]
        assert max(b["size"] for b in messages["broadcasts"]) > 200
        assert messages["max_tie_updated"] > CLAMP
        truth = truth_updated(sb)
        run = sync(sb)
        made = requests_made(sb)
    assert strategy_of(run) == strategy
    assert run.duplicates("messages") == {}, "no message may be emitted twice in one run"
    got = emitted(run)
    missing = set(truth) - set(got)
    if lossless:
        assert missing == set()
        assert got == truth, "every message at its `updated`, parsed, not string-compared"
        assert "WARNING" not in run.stderr
    else:
        # The API leaves no way through: the loss is counted exactly, never silent.
        assert missing, "the sandbox should make this case lossy"
        assert "WARNING" in run.stderr
        assert run.metric("records_missed")["value"] == len(missing)
    page = CLAMP if switches.get("max_limit") else PAGE_SIZE
    # The probe (at most 11), one page per `page` records, and a tie group read twice.
    assert made <= 11 + 2 * math.ceil(MESSAGES / page) + 8, made


@pytest.mark.parametrize("count", [0, 1, 2, 31])
@pytest.mark.parametrize(
    "switches",
    [ORDERED, {**A, **NO_ORDER, "page": "zero"}],
    ids=["updated-desc", "created-offset"],
)
def test_tiny_data_sets(count: int, switches: dict[str, Any]) -> None:
    """No false alarm, no loss and no error when there is little or nothing to learn from."""
    with Sandbox(contacts=0, messages=count, seed=52, **switches) as sb:
        truth = truth_updated(sb)
        run = sync(sb, page_size=30)
    assert emitted(run) == truth
    assert run.duplicates("messages") == {}
    assert "WARNING" not in run.stderr


def test_records_are_valid_and_keep_undocumented_fields() -> None:
    with Sandbox(contacts=0, messages=300, seed=53) as sb:
        run = sync(sb)
        raw = sb.truth(updated=True)["streams"]["messages"]
    check_messages(run.messages)
    records = run.records["messages"]
    assert any(r["extra_fields"] and "segments" in r["extra_fields"] for r in records)
    assert all(r["extra_fields"] is None or "id" not in r["extra_fields"] for r in records)
    # Fractions of 0 to 6 digits, as sent; one UTC format with microseconds, as emitted.
    fractions = {len(v.rstrip("Z").partition(".")[2]) for v in raw["date"].values()}
    assert {0, 3, 6} <= fractions
    for record in records:
        assert record["date"] == timestamps.normalize(
            timestamps.parse(raw["date"][str(record["id"])])
        )
        assert record["date"].endswith("+00:00") and len(record["date"]) == 32


# -- incremental runs ---------------------------------------------------------------------

INCREMENTAL = [
    ("updated-desc", ORDERED),
    ("updated-asc", {**A, **ORDERED, **INCL}),
    ("updated-offset", {**A, **NO_ASC, **clamp("zero")}),
    ("updated-top", {**A, **NO_ASC}),
]


@pytest.mark.parametrize(("strategy", "switches"), INCREMENTAL, ids=[c[0] for c in INCREMENTAL])
def test_incremental_brings_every_status_change_and_new_message(
    strategy: str, switches: dict[str, Any]
) -> None:
    with Sandbox(contacts=0, messages=MESSAGES, seed=54, **switches) as sb:
        full = sync(sb)
        assert strategy_of(full) == strategy
        changed = sb.mutate(n=0, new=0, messages=9, new_messages=4)
        again = sync(sb, state=full.final_state)
        truth = truth_updated(sb)
    assert "WARNING" not in full.stderr + again.stderr
    expected = set(changed["message_ids"]) | set(changed["created_message_ids"])
    got = emitted(again)
    assert expected <= set(got)
    bookmark = full.bookmark("messages")
    # Only what changed, plus the messages at exactly the bookmark (boundary repeats).
    assert all(got[i] >= bookmark for i in got)
    assert set(got) - expected <= {i for i, u in truth.items() if u == bookmark}
    assert {**emitted(full), **got} == truth
    assert again.bookmark("messages") > bookmark


@pytest.mark.parametrize(
    ("strategy", "switches"), INCREMENTAL[:3], ids=[c[0] for c in INCREMENTAL[:3]]
)
def test_changes_during_the_sync_arrive_by_the_next_run(
    strategy: str, switches: dict[str, Any]
) -> None:
    """Every 3rd request first changes 4 statuses and sends 2 messages."""
    mutating = {"mutate_every": 3, "mutate_messages": 4, "create_messages": 2}
    with Sandbox(contacts=0, messages=MESSAGES, seed=55, **switches, **mutating) as sb:
        full = sync(sb)
        sb.configure(mutate_every=0)
        again = sync(sb, state=full.final_state)
        truth = truth_updated(sb)
        mutations = sb.stats()["mutations"]
    assert mutations >= 3
    assert strategy_of(full) == strategy
    assert full.duplicates("messages") == {} or strategy == "updated-asc"
    assert {**emitted(full), **emitted(again)} == truth


def test_lookback_catches_recent_status_changes_and_not_older_ones() -> None:
    """By creation time (`created-desc`, the docs' literal reading), with the default 72 h.

    What docs/messages.md, "What a walk by creation time cannot catch", claims, asserted: a
    status change to a message created within the window is caught by the next incremental
    run; one to an older message is not, and a full sync catches it.
    """
    with Sandbox(contacts=0, messages=MESSAGES, seed=56) as sb:
        full = sync(sb)
        assert strategy_of(full) == "created-desc"
        sent = sb.mutate(n=0, new=0, new_messages=3)["created_message_ids"]
        first = sync(sb, state=full.final_state)
        assert set(sent) <= set(emitted(first))
        created = sb.truth(updated=True)["streams"]["messages"]["date"]
        bookmark = timestamps.parse(first.final_state["bookmarks"]["messages"]["created_bookmark"])
        old = next(
            int(i)
            for i, d in sorted(created.items())
            if timestamps.parse(d) < bookmark - timedelta(hours=72 + 24)
        )
        recent = sent[0]
        sb.mutate(n=0, new=0, message_ids=[old, recent])
        second = sync(sb, state=first.final_state)
        truth = truth_updated(sb)
        rescue = sync(sb)
    assert "lookback of 72 h" in second.stderr
    got = emitted(second)
    assert got[recent] == truth[recent], "created within the window: caught"
    assert old not in got, "created before the window: not caught by an incremental run"
    assert emitted(rescue)[old] == truth[old], "...and caught by a full sync"
    assert "WARNING" not in second.stderr + rescue.stderr


def test_lookback_setting_widens_the_window() -> None:
    """`messages_lookback_hours` re-reads that much before the created bookmark."""
    with Sandbox(contacts=0, messages=MESSAGES, seed=56, **NO_ORDER) as sb:
        full = sync(sb)
        state = full.final_state
        created = {
            int(i): timestamps.parse(d)
            for i, d in sb.truth(updated=True)["streams"]["messages"]["date"].items()
        }
        bookmark = timestamps.parse(state["bookmarks"]["messages"]["created_bookmark"])
        hours = 24 * 40
        again = sync(sb, state=state, messages_lookback_hours=hours)
    window = {i for i, d in created.items() if d >= bookmark - timedelta(hours=hours)}
    assert set(emitted(again)) == window
    assert len(window) > 5


# -- resuming, faults, state -------------------------------------------------------------


def run_killed_at_page(
    config: dict, state: dict | None, kill_at_page: int | None
) -> tuple[list[dict], int | None]:
    """Only `messages` selected; SIGKILL the tap once `kill_at_page` STATE messages of an
    unfinished walk have come out (None: let it finish)."""
    pages = 0

    def walk_state(line: bytes) -> bool:
        nonlocal pages
        if kill_at_page and line.startswith(b'{"type":"STATE"') and b"message_walk" in line:
            pages += 1
        return bool(kill_at_page) and pages >= kill_at_page

    killed = run_until_killed(
        config, state=state, catalog=CATALOG_MESSAGES, kill_on_line=walk_state
    )
    return killed.messages, killed.returncode


KILLED = [
    ("updated-desc", {**ORDERED, **clamp("zero")}),
    ("created-asc", {**A, **NO_ORDER}),
    ("updated-offset", {**A, **NO_ASC, "page": "one"}),
]


@KILL_WARNINGS[0]
@KILL_WARNINGS[1]
@pytest.mark.parametrize(("strategy", "switches"), KILLED, ids=[c[0] for c in KILLED])
def test_kill_and_resume_loses_nothing(strategy: str, switches: dict[str, Any]) -> None:
    """A full and two incremental syncs, each SIGKILLed at random pages (up to three times)
    and restarted from the last STATE received: together they hold every message at its
    latest `updated`."""
    rng = random.Random(f"messages-kill-{strategy}")
    kills = mid_walk = 0
    with Sandbox(contacts=0, messages=3000, seed=57, latency_ms=10, **switches) as sb:
        config = sandbox_config(sb.url, page_size=100)
        state: dict | None = None
        seen: dict[int, str] = {}
        for trial in range(3):
            expected = set(truth_updated(sb))
            if trial:
                changed = sb.mutate(n=0, new=0, messages=250, new_messages=50)
                expected = set(changed["message_ids"]) | set(changed["created_message_ids"])
                if not strategy.startswith("updated"):
                    expected = set(changed["created_message_ids"])  # see the lookback test
            got: dict[int, str] = {}
            read = 0
            for attempt in range(5):
                kill_at = rng.randint(1, 4) if attempt < 3 else None
                messages, returncode = run_killed_at_page(config, state, kill_at)
                for m in messages:
                    if m["type"] == "RECORD":
                        got[m["record"]["id"]] = m["record"]["updated"]
                        read += 1
                states = [m["value"] for m in messages if m["type"] == "STATE"]
                if states:
                    state = states[-1]
                    mid_walk += returncode != 0 and "message_walk" in state["bookmarks"]["messages"]
                if returncode == 0:
                    break
                kills += 1
            else:
                pytest.fail("the sync never completed")
            seen.update(got)
            if trial == 0:
                # A resumed walk continues where it stopped: each kill costs at most the
                # records after the last STATE, one page and the tie group at the cursor.
                assert read <= 3000 + kills * (100 + 300), read
            truth = truth_updated(sb)
            lost = expected - set(got)
            assert not lost, f"trial {trial}: lost {sorted(lost)[:5]}"
            assert all(got[i] == truth[i] for i in expected), f"trial {trial}: stale versions"
        if strategy.startswith("updated"):
            assert seen == truth
        else:
            assert set(seen) == set(truth)  # old messages' status changes: see the lookback test
    assert kills >= 3, "the runs should have been interrupted"
    assert mid_walk >= 3, "the kills should have left walks to resume"


def test_flaky_api_loses_no_message() -> None:
    with Sandbox(
        contacts=0,
        messages=2000,
        seed=58,
        fault_5xx=0.1,
        fault_truncate=0.05,
        fault_drop=0.03,
        fault_seed=3,
        **ORDERED,
        **clamp("zero"),
    ) as sb:
        run = sync(sb)
        truth = truth_updated(sb)
    assert run.stderr.count("retrying in") >= 3
    assert emitted(run) == truth
    assert run.duplicates("messages") == {}


def test_a_corrupt_message_walk_in_state_is_refused_before_any_request() -> None:
    state = {"bookmarks": {"messages": {"message_walk": {"strategy": "sideways", "engine": 1}}}}
    with Sandbox(contacts=0, messages=10) as sb:
        run = run_tap(sandbox_config(sb.url), state=state, catalog=CATALOG_MESSAGES)
        made = sb.stats()["requests"]
    assert run.returncode == 1
    assert "state.bookmarks.messages.message_walk.strategy" in run.stderr
    assert "state.bookmarks.messages.message_walk.engine" in run.stderr
    assert made == 0
