"""`tap_heymarket/state.py`: every problem in a `--state` file, named where it is.

In process and exact: the tap's one-line error is the first of these messages
(tests/tap/test_incremental.py and the conversations tests run the tap on bad files), so each
message is pinned here, and so is that a problem in one stream never hides another's.
That the checks accept every entry the tap writes is asserted after every page of the
walkers' property tests (tests/unit/test_walker_properties.py, tests/unit/test_message_walk.py).
"""

from __future__ import annotations

import typing as t

import pytest

from tap_heymarket.state import state_errors

INCREMENTAL = ["contacts", "tags"]
GOOD_TIME = "2026-01-02T03:04:05.000000Z"

CASES: list[tuple[str, t.Any, list[str]]] = [
    ("not an object", [], ["state must be a JSON object, got an array"]),
    (
        "bookmarks not an object",
        {"bookmarks": 3},
        ["state.bookmarks must be an object, got a number"],
    ),
    ("no bookmarks", {}, []),
    (
        "every stream is checked, incremental or not, in order",
        {"bookmarks": {"inboxes": "x", "contacts": [], "tags": {"replication_key_value": "x"}}},
        [
            "state.bookmarks.inboxes must be an object, got a string",
            "state.bookmarks.contacts must be an object, got an array",
            "state.bookmarks.tags.replication_key_value must be an ISO 8601 date-time, got 'x'",
        ],
    ),
    (
        "a full-table stream's entry is not read, and does not stop the others",
        {
            "bookmarks": {
                "inboxes": {"replication_key_value": "x", "walk": 1},
                "contacts": {"replication_key_value": "not a time"},
            }
        },
        [
            "state.bookmarks.contacts.replication_key_value must be an ISO 8601 date-time, "
            "got 'not a time'"
        ],
    ),
    (
        "an entry without a walk does not stop the next",
        {"bookmarks": {"contacts": {"replication_key_value": GOOD_TIME}, "tags": {"walk": []}}},
        ["state.bookmarks.tags.walk must be an object, got an array"],
    ),
    (
        "a walk that is not an object does not stop the next",
        {"bookmarks": {"contacts": {"walk": "w"}, "tags": {"revs_at_bookmark": {}}}},
        [
            "state.bookmarks.contacts.walk must be an object, got a string",
            "state.bookmarks.tags.revs_at_bookmark must be a list of [id, rev] pairs, "
            "got an object",
        ],
    ),
    (
        "each time of a walk",
        {"bookmarks": {"tags": {"walk": {"floor": 1, "top": "t", "cursor": "c"}}}},
        [
            "state.bookmarks.tags.walk.floor must be an ISO 8601 date-time, got 1",
            "state.bookmarks.tags.walk.top must be an ISO 8601 date-time, got 't'",
            "state.bookmarks.tags.walk.cursor must be an ISO 8601 date-time, got 'c'",
        ],
    ),
    (
        "the cursor kind",
        {"bookmarks": {"tags": {"walk": {"kind": "gt"}}}},
        ["state.bookmarks.tags.walk.kind must be 'le' or 'lt', got 'gt'"],
    ),
    (
        "revs: the first bad pair, by index, in both places",
        {
            "bookmarks": {
                "contacts": {
                    "revs_at_bookmark": [[1, 2], [3, "4"], ["x"]],
                    "walk": {"revs_at_top": [[1, True]]},
                }
            }
        },
        [
            "state.bookmarks.contacts.revs_at_bookmark[1] must be an [id, rev] pair of "
            "integers, got [3, '4']",
            "state.bookmarks.contacts.walk.revs_at_top[0] must be an [id, rev] pair of "
            "integers, got [1, True]",
        ],
    ),
    (
        "revs at the top not a list",
        {"bookmarks": {"contacts": {"walk": {"revs_at_top": 5}}}},
        [
            "state.bookmarks.contacts.walk.revs_at_top must be a list of [id, rev] pairs, "
            "got a number"
        ],
    ),
    (
        "what the tap writes is accepted",
        {
            "bookmarks": {
                "contacts": {
                    "replication_key_value": GOOD_TIME,
                    "revs_at_bookmark": [[1, 2]],
                    "walk": {
                        "floor": GOOD_TIME,
                        "top": GOOD_TIME,
                        "cursor": GOOD_TIME,
                        "kind": "le",
                        "revs_at_top": [[5, 6]],
                    },
                },
                "tags": {"walk": {"kind": "lt"}},
            }
        },
        [],
    ),
]


@pytest.mark.parametrize(("state", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_each_problem_is_named_where_it_is(state: t.Any, expected: list[str]) -> None:
    assert state_errors(state, INCREMENTAL) == expected
