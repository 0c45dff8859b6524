"""Paging through Heymarket's newest-first, `updated`-cursor list endpoints without loss.

The API documents only this: a list is newest first, and the body's `date` means
"updated before". It does not say whether "before" is `<` or `<=`, how precisely the
server reads `date`, whether `limit` is clamped, or what `page` does. Bulk imports give
hundreds of contacts one `updated` value, and a cursor built from `updated` alone then
either skips the rest of the tie group (strict `<`) or returns the same page forever
(`<=`).

`UpdatedCursorPaginator` walks the list with two queries:

* ``LE(T)``, every record updated at or before `T`: `date = T + step` while the server's
  comparison is unknown or strict, `date = T` once the server is known to compare with
  `<=`. `step` is the data's precision as far as seen: 1 s while every `updated` is a
  whole second, then 1 ms, then 1 µs. Nothing lies strictly between `T` and `T + step`,
  and a server that reads `date` only to that unit (truncating it) still reads it exactly;
* ``LT(T)``, every record updated strictly before `T`: `date = T` for a strict server,
  `T - step` for an inclusive one (`step` at most 1 ms here: data seen so far in whole
  seconds may still hold finer timestamps further down). The first `LT` of a walk sends
  `date = T` and learns the comparison from the answer: records at exactly `T` mean `<=`.
  Any answer holding a record at or after the `date` sent also means `<=`; until that is
  known, `LE(T)` answers may start with records at `T + step`, and the walker asks again
  with the tighter `date` instead of taking them for a full page.

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
moves on with `LT(T)`. It never loops. That traversal is `tie_groups.TieGroupReader`, a
collaborator the walker holds.

The walk ends on an empty answer, or on the first record older than the floor (the
bookmark or `start_date`). A short page never ends it. Records at exactly the bookmark
that the previous run emitted, at the same `rev`, are skipped (`known_at_floor`), so an
unchanged rerun emits nothing.

The data classes and the JSON kept in STATE live in `walk_state.py`.
"""

from __future__ import annotations

import logging
import typing as t
from datetime import datetime, timedelta

from singer_sdk.pagination import BaseAPIPaginator

from tap_heymarket import timestamps
from tap_heymarket.run_log import plural
from tap_heymarket.tie_groups import TieGroupReader
from tap_heymarket.walk_state import (
    LE,
    LT,
    MAX_REVS,
    PROBE,
    TOP,
    CursorKind,
    Page,
    PageMode,
    PageRequest,
    Revs,
    ServerCursor,
    WalkMemory,
    record_rev,
    revs_from_state,
    revs_to_state,
)

if t.TYPE_CHECKING:
    import requests

#: Requests in a row that may bring nothing new before the walk fails loudly. Verifying
#: a tie group re-reads it, so this is far above any legitimate run of repeats.
MAX_STALLED_REQUESTS = 2000


class UpdatedCursorPaginator(BaseAPIPaginator[PageRequest]):
    """Walk a newest-first list from the top (or a resumed cursor) down to a floor."""

    def __init__(
        self,
        *,
        page_size: int,
        floor: datetime | None = None,
        resume_cursor: datetime | None = None,
        resume_kind: CursorKind = LE,
        resume_newest: datetime | None = None,
        resume_at_newest: Revs | None = None,
        memory: WalkMemory | None = None,
        known_at_floor: Revs | None = None,
        logger: logging.Logger | None = None,
        label: str = "records",
    ) -> None:
        self.page_size = page_size
        self.floor = floor
        #: (id -> rev) of the records the previous run emitted at exactly `floor` (its
        #: bookmark). Such a record, seen again at the same rev, is skipped: it has not
        #: changed, because every write bumps `rev`.
        self.known_at_floor: Revs = dict(known_at_floor or {}) if floor is not None else {}
        self.logger = logger or logging.getLogger(__name__)
        self.label = label
        self.memory = memory or WalkMemory()
        self.resumed = resume_cursor is not None
        #: The cursor: everything updated after it has been emitted.
        self.cursor: datetime | None = resume_cursor
        #: LE: the group at `cursor` may be incomplete; LT: it is complete.
        self.cursor_kind: CursorKind = resume_kind if resume_cursor is not None else LE
        self.seen_at_cursor: set[int] = set()
        #: The newest `updated` emitted by this walk (the next bookmark).
        self.newest = resume_newest
        #: (id -> rev) of the records emitted at exactly `newest`.
        self.at_newest: Revs = dict(resume_at_newest or {}) if resume_newest else {}
        self.requests = 0
        self.duplicates_skipped = 0
        #: Records at the floor skipped as known: progress, although nothing is emitted.
        self.known_skipped = 0
        #: Reads a tie group larger than the server's page (tie_groups.py).
        self.tie_groups = TieGroupReader(self)
        self._next: PageRequest | None = None
        self._done = False
        self._stalled = 0
        self._last_fingerprint: tuple[t.Any, ...] | None = None
        super().__init__(self._date_request())

    # -- STATE: resuming an unfinished walk, and the bookmark's records ----------

    @classmethod
    def resume(
        cls,
        walk: t.Any,
        *,
        page_size: int,
        floor: datetime | None,
        known_at_floor: Revs | None = None,
        logger: logging.Logger | None = None,
        label: str = "records",
    ) -> UpdatedCursorPaginator:
        """A walker continuing the walk `checkpoint()` saved, or a fresh one.

        The saved walk is used only if it went down to the same floor: a changed
        bookmark or `start_date` starts over from the top.
        """
        floor_text = timestamps.normalize(floor) if floor else None
        kwargs: dict[str, t.Any] = {}
        if isinstance(walk, dict) and walk.get("floor") == floor_text and walk.get("cursor"):
            top = timestamps.parse(walk["top"]) if walk.get("top") else None
            kwargs = {
                "resume_cursor": timestamps.parse(walk["cursor"]),
                "resume_kind": LT if walk.get("kind") == LT else LE,
                "resume_newest": top,
                "resume_at_newest": revs_from_state(walk.get("revs_at_top")),
                "memory": WalkMemory.from_state(walk.get("learned")),
            }
        return cls(
            page_size=page_size,
            floor=floor,
            known_at_floor=known_at_floor,
            logger=logger,
            label=label,
            **kwargs,
        )

    def checkpoint(self) -> dict[str, t.Any] | None:
        """The unfinished walk as STATE keeps it (None: nothing to resume from)."""
        if self._done or self.cursor is None:
            return None
        return {
            "floor": timestamps.normalize(self.floor) if self.floor else None,
            "top": timestamps.normalize(self.newest) if self.newest else None,
            "cursor": timestamps.normalize(self.cursor),
            "kind": self.cursor_kind,
            "learned": self.memory.to_state(),
            "revs_at_top": revs_to_state(self.at_newest),
        }

    def revs_at_newest(self) -> Revs:
        """(id -> rev) of the records at `newest`, to keep next to the bookmark.

        When the walk emitted nothing newer than its floor, the floor's known records
        still stand (updated by any emitted at the floor with a new rev).
        """
        if self.newest is None:
            return dict(self.known_at_floor)
        if self.newest == self.floor:
            merged = {**self.known_at_floor, **self.at_newest}
            return dict(list(merged.items())[:MAX_REVS])
        return dict(self.at_newest)

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
    def page_mode(self) -> PageMode | None:
        """How the server treats `page`: None (unknown), "zero", "one" or "ignored"."""
        return self.memory.page_mode

    def summary(self) -> str:
        """What the walk did, for its end-of-walk INFO line."""
        mode, skipped = self.page_mode or "not needed", plural(self.duplicates_skipped, "repeat")
        return (
            f"{plural(self.emitted, 'record')} in {plural(self.requests, 'request')} ({skipped} "
            f"skipped, page mode {mode}, largest answer {plural(self.capacity, 'record')})"
        )

    @property
    def step(self) -> timedelta:
        return timedelta(microseconds=self.memory.step_us)

    # -- requests ---------------------------------------------------------------

    def fmt(self, value: datetime) -> str:
        """A `date` for the API, at the walk's precision."""
        return timestamps.to_api(value, self.step)

    def le_date(self, at: datetime) -> str:
        """The `date` that asks for every record updated at or before `at`."""
        if self.memory.server_cursor == "inclusive":
            return self.fmt(at)
        return self.fmt(at + self.step)

    def _date_request(self, limit: int | None = None) -> PageRequest:
        if self.cursor is None:
            return PageRequest(date=None, limit=limit or self.page_size, kind=TOP)
        if self.cursor_kind == LT:
            mode = self.memory.server_cursor
            if mode == "inclusive":
                below = self.cursor - min(self.step, timestamps.MILLISECOND)
                date, exact = self.fmt(below), False
            else:
                date, exact = self.fmt(self.cursor), True
            return PageRequest(date=date, limit=limit or self.page_size, kind=LT, exact=exact)
        return PageRequest(
            date=self.le_date(self.cursor),
            limit=limit or self.page_size + len(self.seen_at_cursor),
            kind=LE,
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
        finest = _precision_us(page.updated)
        if finest < self.memory.step_us:
            # Timestamps finer than the step so far: step by their precision from now on.
            self.memory.step_us = finest
        if request.date is not None and self.memory.server_cursor != "inclusive":
            sent = timestamps.parse(request.date)
            if any(u >= sent for u in page.updated):
                # A record at (or after) the `date` sent came back: only `<=` allows that,
                # even from a server that truncates `date`.
                self._learn_cursor("inclusive")
        if request.kind == PROBE:
            if self.memory.server_cursor is None:
                self._learn_cursor("strict")
            stuck = self.tie_groups.take_unprobed()
            if stuck is not None and self.memory.server_cursor == "strict":
                # `LE(T)` keeps its `date` (`T + step`): the answer that got stuck stands.
                self.tie_groups.stuck(stuck)
            else:
                self._next = self._date_request()
            return []
        if self.tie_groups.group is not None:
            return self.tie_groups.consume(page)
        return self._consume_date_page(page, request)

    def _guard_progress(self) -> None:
        """A last line of defence: fail loudly rather than request forever."""
        fingerprint = (
            self.cursor,
            self.cursor_kind,
            len(self.seen_at_cursor),
            self.emitted + self.known_skipped,
        )
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

    def finish(self) -> None:
        """End the walk now (no further request)."""
        self._done = True
        self._next = None

    def _take(self, record: dict[str, t.Any], updated: datetime) -> bool:
        """Account for a record new to this walk; True if it is to be emitted.

        False for a record the previous run emitted at the floor, unchanged since. A
        record without an integer `id` and `rev` cannot be recognised and is emitted.
        """
        pair = record_rev(record)
        if updated == self.floor and pair and self.known_at_floor.get(pair[0]) == pair[1]:
            self.known_skipped += 1
            self.duplicates_skipped += 1
            return False
        self.memory.emitted += 1
        if self.newest is None or updated > self.newest:
            self.newest = updated
            self.at_newest = {}
        if updated == self.newest and pair and len(self.at_newest) < MAX_REVS:
            self.at_newest[pair[0]] = pair[1]
        return True

    def _below_floor(self, updated: datetime) -> bool:
        return self.floor is not None and updated < self.floor

    def _consume_date_page(self, page: Page, request: PageRequest) -> list[dict[str, t.Any]]:
        if not page.records:
            self.finish()
            return []
        out: list[dict[str, t.Any]] = []
        cursor, kind = self.cursor, self.cursor_kind
        at_cursor = newer = False
        #: Records new to this walk (emitted, or skipped as known at the floor).
        fresh = 0
        for record, updated in zip(page.records, page.updated, strict=True):
            if self._below_floor(updated):
                # Newest first: everything from here on is older than the floor.
                self.finish()
                return out
            if cursor is not None and updated >= cursor:
                if updated == cursor:
                    at_cursor = True
                else:
                    newer = True
                if kind == LT or updated > cursor or record["id"] in self.seen_at_cursor:
                    # Emitted already: the group at a completed cursor, a record newer
                    # than the cursor, or one of the group's first members.
                    self.duplicates_skipped += 1
                    continue
                self.seen_at_cursor.add(record["id"])
            fresh += 1
            if self._take(record, updated):
                out.append(record)

        if request.exact and cursor is not None:
            # `date` was the cursor itself: records at it mean the server compares `<=`.
            self._learn_cursor("inclusive" if at_cursor else "strict")

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
        elif fresh:
            # Still inside the group at the cursor, but progressing: ask for more.
            self._next = self._date_request()
        elif newer and self._date_request().date != request.date:
            # Records above the cursor filled the answer, and what this answer taught
            # (the comparison, or the data's precision) gives a tighter `date`: ask again.
            self._next = self._date_request()
        else:
            self.tie_groups.stuck(page)
        return out

    def _learn_cursor(self, learned: ServerCursor) -> None:
        if learned != self.memory.server_cursor:
            self.logger.info(
                "%s: the API reads `date` as updated %s it",
                self.label,
                "at or before" if learned == "inclusive" else "before",
            )
        self.memory.server_cursor = learned

    # -- what the tie-group reader asks of the walker (tie_groups.GroupHost) ---------

    def ask(self, request: PageRequest) -> None:
        """Make `request` the next request."""
        self._next = request

    def leave_group(self) -> None:
        """The group at the cursor is complete: continue strictly below it."""
        self.cursor_kind = LT
        self.seen_at_cursor = set()
        self.tie_groups.close()
        self._next = self._date_request()

    def accept_in_group(self, record: dict[str, t.Any], updated: datetime) -> bool:
        """A member of the group at the cursor read by offsets: skipped if emitted
        already, else accounted for (`_take`); True if it is to be emitted."""
        if record["id"] in self.seen_at_cursor:
            self.duplicates_skipped += 1
            return False
        self.seen_at_cursor.add(record["id"])
        return self._take(record, updated)


def _precision_us(values: list[datetime]) -> int:
    """The coarsest unit (1 s, 1 ms or 1 µs) every value is a whole multiple of."""
    finest = 1_000_000
    for value in values:
        if value.microsecond % 1000:
            return 1
        if value.microsecond:
            finest = 1000
    return finest
