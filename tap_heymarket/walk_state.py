"""The walker's data: requests, decoded answers, and what STATE keeps of a walk.

`pagination.py` holds the walk itself; this module holds the values it passes around and
the JSON shapes it persists, so that the stream, the state checks and the tests share
one definition of each.
"""

from __future__ import annotations

import typing as t
from dataclasses import dataclass, field
from datetime import datetime

#: Request kinds (never sent): how to read the answer. `le`: at or before the cursor;
#: `lt`: strictly before it; `offset`: a `page` of a tie group; `top`: the newest page;
#: `probe`: `date` = the cursor, only to learn how the server compares.
Kind = t.Literal["top", "le", "lt", "offset", "probe"]
#: Request kinds (never sent): how to read the answer (see `Kind`).
TOP: t.Final = "top"
LE: t.Final = "le"
LT: t.Final = "lt"
OFFSET: t.Final = "offset"
PROBE: t.Final = "probe"
#: Where a walk stands at its cursor. `le`: the group at the cursor may be incomplete;
#: `lt`: it is complete.
CursorKind = t.Literal["le", "lt"]
#: How the server treats `page`: counted from 0, from 1, or ignored.
PageMode = t.Literal["zero", "one", "ignored"]
#: How the server compares `date`: `<` (strict) or `<=` (inclusive).
ServerCursor = t.Literal["strict", "inclusive"]

#: Steps the walk can move its cursor by, in microseconds: the data's precision.
STEPS_US = (1, 1000, 1_000_000)
#: At most this many (id, rev) pairs are kept for the records at one `updated` value (the
#: bookmark, or the top of an unfinished walk). STATE is written after every page, so a
#: huge tie group must not bloat it: records beyond this come again once, as duplicates.
MAX_REVS = 1000

#: An (id, rev) set as it is kept in memory: id -> rev.
Revs = dict[int, int]


@dataclass(frozen=True)
class PageRequest:
    """One request of the walk: the body fields to send, plus bookkeeping."""

    date: str | None
    limit: int
    page: int | None = None
    #: Which query this is; never sent.
    kind: Kind = "top"
    #: True when `date` is the cursor itself, so the answer shows `<` versus `<=`.
    exact: bool = False
    #: Which tie-group pass this request belongs to (never sent; makes repeats distinct).
    pass_no: int = 0

    def body(self) -> dict[str, t.Any]:
        """The JSON body for `POST /v1/contacts` and friends."""
        payload: dict[str, t.Any] = {"limit": self.limit}
        if self.date is not None:
            payload["date"] = self.date
        if self.page is not None:
            payload["page"] = self.page
        return payload


@dataclass
class Page:
    """A decoded answer: records and their parsed `updated`, in API order."""

    records: list[dict[str, t.Any]]
    updated: list[datetime]


@dataclass
class WalkMemory:
    """What the walker learned about the server, kept in STATE across a resume."""

    capacity: int = 0
    page_mode: PageMode | None = None
    server_cursor: ServerCursor | None = None
    #: The coarsest unit every `updated` seen so far is a multiple of (1 s, 1 ms or 1 µs).
    #: `at or before T` asks for `date = T + step`, which a server that reads `date`
    #: only to that unit still reads exactly.
    step_us: int = 1_000_000
    emitted: int = 0
    incomplete_groups: list[tuple[str, int]] = field(default_factory=list)
    #: `updated` of the tie groups left after MAX_VERIFY_PASSES passes that disagreed
    #: (members kept changing): read as far as possible, but not proven complete. A
    #: delete sweep (sweep.py) cannot activate after one.
    unsettled_groups: list[str] = field(default_factory=list)

    def to_state(self) -> dict[str, t.Any]:
        state: dict[str, t.Any] = {
            "capacity": self.capacity,
            "page_mode": self.page_mode,
            "server_cursor": self.server_cursor,
            "step_us": self.step_us,
            "emitted": self.emitted,
            "incomplete_groups": [list(g) for g in self.incomplete_groups],
        }
        if self.unsettled_groups:
            state["unsettled_groups"] = list(self.unsettled_groups)
        return state

    @classmethod
    def from_state(cls, data: t.Any) -> WalkMemory:
        """Tolerant of older or partial states: unknown values fall back to defaults."""
        memory = cls()
        if not isinstance(data, dict):
            return memory
        if isinstance(data.get("capacity"), int):
            memory.capacity = data["capacity"]
        if data.get("page_mode") in ("zero", "one", "ignored"):
            memory.page_mode = data["page_mode"]
        if data.get("server_cursor") in ("strict", "inclusive"):
            memory.server_cursor = data["server_cursor"]
        if data.get("step_us") in STEPS_US:
            memory.step_us = data["step_us"]
        if isinstance(data.get("emitted"), int):
            memory.emitted = data["emitted"]
        groups = data.get("incomplete_groups")
        if isinstance(groups, list):
            memory.incomplete_groups = [
                (str(g[0]), int(g[1])) for g in groups if isinstance(g, list) and len(g) == 2
            ]
        unsettled = data.get("unsettled_groups")
        if isinstance(unsettled, list):
            memory.unsettled_groups = [str(g) for g in unsettled]
        return memory


def record_rev(record: dict[str, t.Any]) -> tuple[int, int] | None:
    """The record's (id, rev), or None when either is not an integer (it cannot be kept)."""
    record_id, rev = record.get("id"), record.get("rev")
    if is_int(record_id) and is_int(rev):
        return record_id, rev
    return None


def revs_to_state(revs: Revs) -> list[list[int]]:
    """`[[id, rev], ...]`, sorted by id so that equal sets give equal STATE."""
    return [[i, revs[i]] for i in sorted(revs)]


def revs_from_state(data: t.Any) -> Revs:
    """The pairs of a state written by `revs_to_state` (checked by `state.py` beforehand)."""
    if not isinstance(data, list):
        return {}
    return {p[0]: p[1] for p in data if revs_pair_ok(p)}


def revs_pair_ok(pair: t.Any) -> bool:
    return isinstance(pair, list) and len(pair) == 2 and all(is_int(v) for v in pair)


def is_int(value: t.Any) -> t.TypeGuard[int]:
    """An integer, and not a boolean (JSON's `true` is no id)."""
    return isinstance(value, int) and not isinstance(value, bool)
