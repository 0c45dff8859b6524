"""Paging through Heymarket's newest-first, `updated`-cursor list endpoints without loss.

The API documents only this: a list is newest first, and the body's `date` means
"updated before". It does not say whether "before" is `<` or `<=`, how precisely the
server reads `date`, whether `limit` is clamped, or what `page` does. Bulk imports give
hundreds of contacts one `updated` value, and a cursor built from `updated` alone then
either skips the rest of the tie group (strict `<`) or returns the same page forever
(`<=`).

`UpdatedCursorPaginator` walks the list with two queries:

* ``LE(T)``, every record updated at or before `T`: `date = T + step` while the server's
  comparison is unknown or strict (`step` is 1 ms, below any timestamp the API sends, and
  a server that truncates `date` to milliseconds still reads it exactly), `date = T`
  once the server is known to compare with `<=`;
* ``LT(T)``, every record updated strictly before `T`: `date = T` for a strict server,
  `T - step` for an inclusive one. The first `LT` of a walk sends `date = T` and learns the
  comparison from the answer: records at exactly `T` mean `<=`.

The invariant is: every record updated after the cursor `T` has been emitted, and
`seen` holds the ids already emitted at exactly `T`. Each `LE(T)` answer starts with
the tie group at `T`, so the next request asks for `page_size + len(seen)` records:
a full page of new records per request when the server honours the limit.

When an answer stays inside the group at `T` and brings nothing new, the group may be
larger than the server's page (it clamps `limit`). Then the walker tries `page` as an
offset within `LE(T)`: it detects 0-based, 1-based or ignored paging from the answers,
reads the group page by page, and re-reads it until two passes return the same ids
(a member updated mid-traversal leaves the group and shifts later offsets; an equal
second pass proves no shift happened). If `page` is ignored, nothing can reach the rest
of the group: the walker records the group as incomplete (the stream reports it) and
moves on with `LT(T)`. It never loops.

The walk ends on an empty answer, or on the first record older than the floor (the
bookmark or `start_date`). A short page never ends it.
"""

from __future__ import annotations

import logging
import typing as t
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from singer_sdk.pagination import BaseAPIPaginator

from tap_heymarket import timestamps

if t.TYPE_CHECKING:
    import requests

#: The walker gives up on a tie group after this many passes that disagree.
MAX_VERIFY_PASSES = 5
#: Requests in a row that may bring nothing new before the walk fails loudly. Verifying
#: a tie group re-reads it, so this is far above any legitimate run of repeats.
MAX_STALLED_REQUESTS = 2000

#: Request kinds (never sent): how to read the answer.
TOP, LE, LT, OFFSET = "top", "le", "lt", "offset"


@dataclass(frozen=True)
class PageRequest:
    """One request of the walk: the body fields to send, plus bookkeeping."""

    date: str | None
    limit: int
    page: int | None = None
    #: Which query this is (TOP, LE, LT or OFFSET); never sent.
    kind: str = TOP
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
class _GroupTraversal:
    """State while reading one oversized tie group by `page` offsets."""

    at: datetime
    size_hint: int
    page_no: int = 0
    pass_no: int = 1
    pass_ids: set[int] = field(default_factory=set)
    previous_pass: set[int] | None = None
    probing: bool = False
    first_page_ids: list[int] = field(default_factory=list)


@dataclass
class WalkMemory:
    """What the walker learned about the server, kept in STATE across a resume."""

    capacity: int = 0
    page_mode: str | None = None
    server_cursor: str | None = None
    step_us: int = 1000
    emitted: int = 0
    incomplete_groups: list[tuple[str, int]] = field(default_factory=list)

    def to_state(self) -> dict[str, t.Any]:
        return {
            "capacity": self.capacity,
            "page_mode": self.page_mode,
            "server_cursor": self.server_cursor,
            "step_us": self.step_us,
            "emitted": self.emitted,
            "incomplete_groups": [list(g) for g in self.incomplete_groups],
        }

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
        if data.get("step_us") in (1, 1000):
            memory.step_us = data["step_us"]
        if isinstance(data.get("emitted"), int):
            memory.emitted = data["emitted"]
        groups = data.get("incomplete_groups")
        if isinstance(groups, list):
            memory.incomplete_groups = [
                (str(g[0]), int(g[1])) for g in groups if isinstance(g, list) and len(g) == 2
            ]
        return memory


class UpdatedCursorPaginator(BaseAPIPaginator[PageRequest]):
    """Walk a newest-first list from the top (or a resumed cursor) down to a floor."""

    def __init__(
        self,
        *,
        page_size: int,
        floor: datetime | None = None,
        resume_cursor: datetime | None = None,
        resume_kind: str = LE,
        resume_newest: datetime | None = None,
        memory: WalkMemory | None = None,
        logger: logging.Logger | None = None,
        label: str = "records",
    ) -> None:
        self.page_size = page_size
        self.floor = floor
        self.logger = logger or logging.getLogger(__name__)
        self.label = label
        self.memory = memory or WalkMemory()
        self.resumed = resume_cursor is not None
        #: The cursor: everything updated after it has been emitted.
        self.cursor: datetime | None = resume_cursor
        #: LE: the group at `cursor` may be incomplete; LT: it is complete.
        self.cursor_kind = resume_kind if resume_cursor is not None else LE
        self.seen_at_cursor: set[int] = set()
        #: The newest `updated` emitted by this walk (the next bookmark).
        self.newest = resume_newest
        self.requests = 0
        self.duplicates_skipped = 0
        self._group: _GroupTraversal | None = None
        self._next: PageRequest | None = None
        self._done = False
        self._stalled = 0
        self._last_fingerprint: tuple[t.Any, ...] | None = None
        super().__init__(self._date_request())

    # -- what the walk has learned (persisted through WalkMemory) ---------------

    @property
    def emitted(self) -> int:
        """Records emitted by this walk, including before a resume."""
        return self.memory.emitted

    @property
    def capacity(self) -> int:
        """The largest answer the server has given: its effective page size."""
        return self.memory.capacity

    @property
    def page_mode(self) -> str | None:
        """How the server treats `page`: None (unknown), "zero", "one" or "ignored"."""
        return self.memory.page_mode

    @property
    def step(self) -> timedelta:
        return timedelta(microseconds=self.memory.step_us)

    # -- requests ---------------------------------------------------------------

    def _fmt(self, value: datetime) -> str:
        return timestamps.to_api(value, self.step)

    def _le_date(self, at: datetime) -> str:
        if self.memory.server_cursor == "inclusive":
            return self._fmt(at)
        return self._fmt(at + self.step)

    def _date_request(self, limit: int | None = None) -> PageRequest:
        if self.cursor is None:
            return PageRequest(date=None, limit=limit or self.page_size, kind=TOP)
        if self.cursor_kind == LT:
            mode = self.memory.server_cursor
            if mode == "inclusive":
                date, exact = self._fmt(self.cursor - self.step), False
            else:
                date, exact = self._fmt(self.cursor), True
            return PageRequest(date=date, limit=limit or self.page_size, kind=LT, exact=exact)
        return PageRequest(
            date=self._le_date(self.cursor),
            limit=limit or self.page_size + len(self.seen_at_cursor),
            kind=LE,
        )

    def _offset_request(self, group: _GroupTraversal, page_no: int | None) -> PageRequest:
        return PageRequest(
            date=self._le_date(group.at),
            limit=group.size_hint,
            page=page_no,
            kind=OFFSET,
            pass_no=group.pass_no,
        )

    # -- BaseAPIPaginator -------------------------------------------------------

    def has_more(self, response: requests.Response) -> bool:
        """False once the walk has reached an empty answer or the floor."""
        return not self._done

    def get_next(self, response: requests.Response) -> PageRequest | None:
        """The request `consume` planned from the last answer."""
        return None if self._done else self._next

    def continue_if_empty(self, response: requests.Response) -> bool:
        """An answer of only already-emitted records is not the end of the walk."""
        return not self._done

    # -- the walk ---------------------------------------------------------------

    @property
    def finished_walk(self) -> bool:
        """True when the walk reached its end (not just the last page fetched)."""
        return self._done

    def consume(self, page: Page) -> list[dict[str, t.Any]]:
        """Take one decoded answer; return the records to emit and plan the next request."""
        self.requests += 1
        request = self.current_value
        self._guard_progress()
        if len(page.records) > self.memory.capacity:
            self.memory.capacity = len(page.records)
        if self.memory.step_us > 1 and any(u.microsecond % 1000 for u in page.updated):
            # Timestamps finer than a millisecond: step by a microsecond from now on.
            self.memory.step_us = 1
        if self._group is not None:
            return self._consume_group_page(page)
        return self._consume_date_page(page, request)

    def _guard_progress(self) -> None:
        """A last line of defence: fail loudly rather than request forever."""
        fingerprint = (self.cursor, self.cursor_kind, len(self.seen_at_cursor), self.emitted)
        if fingerprint == self._last_fingerprint:
            self._stalled += 1
        else:
            self._stalled = 0
        self._last_fingerprint = fingerprint
        if self._stalled >= MAX_STALLED_REQUESTS:
            msg = (
                f"{self.label}: {self._stalled} requests in a row brought nothing new "
                f"(cursor {self.cursor}); the API is not paging as documented"
            )
            raise RuntimeError(msg)

    def _finish(self) -> None:
        self._done = True
        self._next = None

    def _emit(self, updated: datetime) -> None:
        self.memory.emitted += 1
        if self.newest is None or updated > self.newest:
            self.newest = updated

    def _below_floor(self, updated: datetime) -> bool:
        return self.floor is not None and updated < self.floor

    def _consume_date_page(self, page: Page, request: PageRequest) -> list[dict[str, t.Any]]:
        if not page.records:
            self._finish()
            return []
        out: list[dict[str, t.Any]] = []
        cursor, kind = self.cursor, self.cursor_kind
        at_cursor = False
        for record, updated in zip(page.records, page.updated, strict=True):
            if self._below_floor(updated):
                # Newest first: everything from here on is older than the floor.
                self._finish()
                return out
            if cursor is not None and updated >= cursor:
                if updated == cursor:
                    at_cursor = True
                if kind == LT or updated > cursor or record["id"] in self.seen_at_cursor:
                    # Emitted already: the group at a completed cursor, a record newer
                    # than the cursor, or one of the group's first members.
                    self.duplicates_skipped += 1
                    continue
                self.seen_at_cursor.add(record["id"])
            self._emit(updated)
            out.append(record)

        if request.exact and cursor is not None:
            # `date` was the cursor itself: records at it mean the server compares `<=`.
            learned = "inclusive" if at_cursor else "strict"
            if learned != self.memory.server_cursor:
                self.logger.info(
                    "%s: the API reads `date` as updated %s it",
                    self.label,
                    "at or before" if learned == "inclusive" else "before",
                )
            self.memory.server_cursor = learned

        last = page.updated[-1]
        if cursor is None or last < cursor:
            # The answer went past the cursor's group: that group is complete.
            self.cursor, self.cursor_kind = last, LE
            self.seen_at_cursor = {
                r["id"] for r, u in zip(page.records, page.updated, strict=True) if u == last
            }
            self._next = self._date_request()
        elif kind == LT:
            # Only the completed group came back: ask again below it, now that the
            # server's comparison is known.
            self._next = self._date_request()
        elif out:
            # Still inside the group at the cursor, but progressing: ask for more.
            self._next = self._date_request()
        else:
            self._stuck(page)
        return out

    def _stuck(self, page: Page) -> None:
        """An `LE(T)` answer held only records already emitted at `T` (or newer)."""
        assert self.cursor is not None
        answered = len(page.records)
        if answered < self.memory.capacity:
            # The server has answered with more before, so this answer was not cut by a
            # limit: it holds the whole group at T and nothing older. Confirm the end
            # with `LT(T)` (a short page is never taken as the last one).
            self._leave_group()
            return
        if self.memory.page_mode == "ignored":
            self._give_up(answered)
            return
        # The group may be larger than the server's page: read it by `page` offsets.
        group = _GroupTraversal(at=self.cursor, size_hint=answered)
        group.pass_ids = {
            r["id"] for r, u in zip(page.records, page.updated, strict=True) if u == self.cursor
        }
        group.first_page_ids = [r["id"] for r in page.records]
        self._group = group
        self._request_group_page(group, 2 if self.memory.page_mode == "one" else 1)
        group.probing = self.memory.page_mode is None
        self.logger.info(
            "%s: at least %d %s share updated=%s, more than the API's page; reading the "
            "group by page offsets",
            self.label,
            len(group.pass_ids),
            self.label,
            timestamps.normalize(self.cursor),
        )

    def _request_group_page(self, group: _GroupTraversal, page_no: int) -> None:
        group.page_no = page_no
        self._next = self._offset_request(group, page_no)

    def _leave_group(self) -> None:
        """The group at the cursor is complete: continue strictly below it."""
        self.cursor_kind = LT
        self.seen_at_cursor = set()
        self._group = None
        self._next = self._date_request()

    def _give_up(self, read: int) -> None:
        assert self.cursor is not None
        at = timestamps.normalize(self.cursor)
        self.memory.incomplete_groups.append((at, read))
        self.logger.info(
            "%s: the API answers at most %d per request and ignores `page`; the tie group "
            "at updated=%s cannot be read beyond its first %d",
            self.label,
            self.memory.capacity,
            at,
            read,
        )
        self._leave_group()

    def _consume_group_page(self, page: Page) -> list[dict[str, t.Any]]:
        group = self._group
        assert group is not None
        ids = [r["id"] for r in page.records]
        if group.probing:
            if page.records and ids == group.first_page_ids:
                # Same answer as offset 0: `page` is 1-based (page 1 is the first page)
                # or ignored. Page 2 tells them apart.
                if group.page_no == 1:
                    self._request_group_page(group, 2)
                    return []
                self.memory.page_mode = "ignored"
                self._group = None
                self._give_up(len(group.pass_ids))
                return []
            self.memory.page_mode = "zero" if group.page_no == 1 else "one"
            group.probing = False
            self.logger.info(
                "%s: the API honours `page` (%s-based)", self.label, self.memory.page_mode
            )

        out: list[dict[str, t.Any]] = []
        left_group = not page.records
        new_in_pass = 0
        for record, updated in zip(page.records, page.updated, strict=True):
            if updated < group.at:
                left_group = True
                break
            if updated > group.at:
                continue
            if record["id"] not in group.pass_ids:
                new_in_pass += 1
                group.pass_ids.add(record["id"])
            if record["id"] in self.seen_at_cursor:
                self.duplicates_skipped += 1
                continue
            self.seen_at_cursor.add(record["id"])
            self._emit(updated)
            out.append(record)

        if not left_group and new_in_pass == 0:
            # Offsets stopped moving through the group: treat `page` as ignored.
            self.memory.page_mode = "ignored"
            self._group = None
            self._give_up(len(group.pass_ids))
            return out
        if not left_group:
            self._request_group_page(group, group.page_no + 1)
            return out
        # One pass over the group is complete; verify it with another.
        if group.previous_pass is not None and group.previous_pass == group.pass_ids:
            self._leave_group()
            return out
        if group.pass_no >= MAX_VERIFY_PASSES:
            self.logger.warning(
                "%s: the tie group at updated=%s kept changing over %d passes; "
                "continuing with %d ids read. Records updated during the sync arrive "
                "with the next incremental run.",
                self.label,
                timestamps.normalize(group.at),
                group.pass_no,
                len(self.seen_at_cursor),
            )
            self._leave_group()
            return out
        group.previous_pass = group.pass_ids
        group.pass_ids = set()
        group.pass_no += 1
        self._request_group_page(group, 0 if self.memory.page_mode == "zero" else 1)
        return out
