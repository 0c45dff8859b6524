"""The three engines a messages walk runs on (the table is in message_walk.py's docstring).

* `CursorEngine`: the tie-safe walker of pagination.py on the walk's key, in mirrored time
  for an ascending walk over a lower bound;
* `OffsetEngine`: pages by `page` through the list sorted newest first by its key;
* `TopEngine`: everything in one answer, when the API only ever shows the newest messages.

Each checks every answer against what the probe proved and stops the sync
(`MessagesPagingError`) on one that contradicts it.
"""

from __future__ import annotations

import logging
import typing as t
from datetime import datetime

from tap_heymarket import timestamps
from tap_heymarket.message_strategy import (
    LABEL,
    MAX_OFFSET_STALLS,
    MICROSECOND,
    TOP_MAX_LIMIT,
    Count,
    CursorField,
    Key,
    MessagePage,
    MessagesPagingError,
    api_time,
    descending,
    mirror,
)
from tap_heymarket.pagination import UpdatedCursorPaginator
from tap_heymarket.walk_state import MAX_REVS, Page, PageMode, PageRequest, WalkMemory

# -- engines ------------------------------------------------------------------------------


class _WalkerLog(logging.LoggerAdapter[logging.Logger]):
    """The contacts walker's log lines, in the messages' terms (and real time when mirrored)."""

    def __init__(self, logger: logging.Logger, key: Key, mirrored: bool) -> None:
        super().__init__(logger, {})
        self.key = key
        self.mirrored = mirrored

    def log(self, level: int, msg: object, *args: t.Any, **kwargs: t.Any) -> None:
        text = str(msg).replace("updated=", f"{self.key}=")
        text = text.replace("`date` as updated %s it", f"the cursor as {self.key} %s it")
        mapped = [self._arg(a) for a in args]
        super().log(level, text, *mapped, **kwargs)

    def _arg(self, value: t.Any) -> t.Any:
        if not self.mirrored or not isinstance(value, str):
            return value
        if value in ("before", "at or before"):
            return value.replace("before", "after")
        try:
            parsed = timestamps.parse(value)
        except ValueError:
            return value
        return timestamps.normalize(mirror(parsed)) if parsed.year >= 2400 else value


#: The contacts walker is driven like the SDK drives it; it never reads the response.
_NO_RESPONSE: t.Any = None


class CursorEngine:
    """The tie-safe date-cursor walker on `key`, descending, or ascending in mirrored time."""

    def __init__(
        self,
        *,
        key: Key,
        ascending: bool,
        cursor_field: CursorField,
        page_size: int,
        floor: datetime | None,
        saved: dict[str, t.Any] | None,
        logger: logging.Logger,
    ) -> None:
        self.key = key
        self.ascending = ascending
        self.cursor_field = cursor_field
        log = t.cast("logging.Logger", _WalkerLog(logger, key, ascending))
        # Ascending: no floor in walker time (the walk goes up to the newest message); it
        # starts "at or before" the mirrored floor, i.e. at or after the real one.
        walker_floor = None if ascending else floor
        inner: UpdatedCursorPaginator | None = None
        if saved is not None:
            inner = UpdatedCursorPaginator.resume(
                self._walker_state(saved),
                page_size=page_size,
                floor=walker_floor,
                logger=log,
                label=LABEL,
            )
            if not inner.resumed:
                inner = None
        self.resumed = inner is not None
        if inner is None:
            start = mirror(floor) if ascending and floor is not None else None
            inner = UpdatedCursorPaginator(
                page_size=page_size,
                floor=walker_floor,
                resume_cursor=start,
                memory=WalkMemory(step_us=1),  # the messages' timestamps have microseconds
                logger=log,
                label=LABEL,
            )
        self.inner = inner

    def _walker_state(self, saved: dict[str, t.Any]) -> dict[str, t.Any]:
        if not self.ascending:
            return saved
        out = dict(saved)
        for name in ("cursor", "top"):
            if out.get(name):
                out[name] = timestamps.normalize(mirror(timestamps.parse(out[name])))
        return out

    @property
    def done(self) -> bool:
        return self.inner.finished_walk

    @property
    def emitted(self) -> int:
        return self.inner.emitted

    def body(self) -> dict[str, t.Any]:
        token: PageRequest = self.inner.current_value
        body: dict[str, t.Any] = {"limit": token.limit}
        if token.date is not None:
            body[self.cursor_field] = self._real(token.date)
        if token.page is not None:
            body["page"] = token.page
        if self.key == "updated":
            body["order"] = "updated_at"
        if self.ascending:
            body["ascending"] = True
        return body

    def _real(self, walker_date: str) -> str:
        return api_time(mirror(timestamps.parse(walker_date))) if self.ascending else walker_date

    def consume(self, page: MessagePage) -> list[dict[str, t.Any]]:
        keys = page.keys(self.key)
        walker_keys = [mirror(k) for k in keys] if self.ascending else keys
        token: PageRequest = self.inner.current_value
        self._check(token, keys, walker_keys)
        out = self.inner.consume(Page(records=page.records, updated=walker_keys))
        self.inner.advance(_NO_RESPONSE)
        return out

    def _check(self, token: PageRequest, keys: list[datetime], walker: list[datetime]) -> None:
        direction = "oldest first" if self.ascending else "newest first"
        if not descending(walker):
            raise MessagesPagingError(
                f"POST /v1/messages/all did not answer {direction} by `{self.key}`, as the "
                "probe found at the start of the run; stopping rather than risk losing messages"
            )
        if token.date is None:
            return
        bound = timestamps.parse(token.date)
        for key, value in zip(keys, walker, strict=True):
            if value > bound:
                side = "before" if self.ascending else "after"
                raise MessagesPagingError(
                    f"POST /v1/messages/all answered a message with {self.key}="
                    f"{timestamps.normalize(key)}, {side} the cursor "
                    f"{self._real(token.date)} it was sent; the API does not filter as the "
                    "probe found at the start of the run, so the tap stops rather than risk "
                    "losing messages"
                )

    def checkpoint(self) -> dict[str, t.Any] | None:
        walk = self.inner.checkpoint()
        if walk is None or not self.ascending:
            return walk
        return self._walker_state(walk)  # mirroring is its own inverse

    def incomplete_groups(self) -> list[tuple[str, int]]:
        groups = self.inner.memory.incomplete_groups
        if not self.ascending:
            return list(groups)
        return [(timestamps.normalize(mirror(timestamps.parse(at))), n) for at, n in groups]

    @property
    def requests(self) -> int:
        return self.inner.requests


class OffsetEngine:
    """`page` after `page` through the list sorted newest first by `key`, to the floor."""

    def __init__(
        self,
        *,
        key: Key,
        page_mode: PageMode,
        page_size: int,
        floor: datetime | None,
        saved: dict[str, t.Any] | None,
    ) -> None:
        self.key = key
        self.one_based = page_mode == "one"
        self.floor = floor
        self.limit = page_size
        self.offset = 0
        #: The first answer was shorter than asked: from then on, ask exactly that many.
        self.shrunk = False
        #: The last key emitted, and the ids emitted at it.
        self.last: datetime | None = None
        self.at_last: set[int] = set()
        self.done = False
        self.emitted = 0
        self.requests = 0
        self.stalls = 0
        self.resumed = False
        if saved:
            self.limit = int(saved["limit"])
            self.offset = int(saved["offset"])
            self.shrunk = bool(saved.get("shrunk"))
            self.last = timestamps.parse(saved["last"]) if saved.get("last") else None
            self.at_last = set(saved.get("at_last") or [])
            self.emitted = int(saved.get("emitted") or 0)
            self.resumed = True

    def body(self) -> dict[str, t.Any]:
        body: dict[str, t.Any] = {
            "limit": self.limit,
            "page": self.offset // self.limit + (1 if self.one_based else 0),
        }
        if self.key == "updated":
            body["order"] = "updated_at"
        return body

    def consume(self, page: MessagePage) -> list[dict[str, t.Any]]:
        self.requests += 1
        keys = page.keys(self.key)
        if not descending(keys):
            raise MessagesPagingError(
                f"POST /v1/messages/all did not answer newest first by `{self.key}` on page "
                f"{self.body()['page']}; stopping rather than risk losing messages"
            )
        out = []
        for record, key in zip(page.records, keys, strict=True):
            if self.floor is not None and key < self.floor:
                self.done = True
                break
            last = self.last
            if last is not None and (key > last or (key == last and record["id"] in self.at_last)):
                continue  # shifted down by a newer message: emitted already
            if last is None or key < last:
                self.last, self.at_last = key, set()
            self.at_last.add(record["id"])
            out.append(record)
        self.emitted += len(out)
        if not self.done:
            answered = len(page.records)
            if answered == 0:
                self.done = True
            elif answered < self.limit:
                if self.offset == 0 and not self.shrunk:
                    # Clamped (or the whole list): page on with the size the API gives.
                    self.limit, self.offset, self.shrunk = answered, answered, True
                else:
                    self.done = True
            else:
                self.offset += answered
        self.stalls = 0 if out or self.done else self.stalls + 1
        if self.stalls >= MAX_OFFSET_STALLS:
            raise MessagesPagingError(
                f"POST /v1/messages/all answered {self.stalls} pages in a row with messages "
                "already read: `page` does not move through the list as the probe found"
            )
        return out

    def checkpoint(self) -> dict[str, t.Any] | None:
        if self.done:
            return None
        return {
            "offset": self.offset,
            "limit": self.limit,
            "shrunk": self.shrunk,
            "last": timestamps.normalize(self.last) if self.last else None,
            "at_last": sorted(self.at_last)[:MAX_REVS],
            "emitted": self.emitted,
        }

    def incomplete_groups(self) -> list[tuple[str, int]]:
        return []


class TopEngine:
    """Only the newest `limit` messages are reachable: ask for all of them at once."""

    def __init__(
        self,
        *,
        key: Key,
        cursor_field: CursorField | None,
        page_size: int,
        floor: datetime | None,
        count: Count,
    ) -> None:
        self.key = key
        self.floor = floor
        self.limit = page_size
        self.filter: dict[str, t.Any] = {}
        if key == "updated":
            self.filter["order"] = "updated_at"
        if cursor_field is not None and floor is not None:
            # A lower bound on the key: "at or after the floor" under `>` and `>=`.
            self.filter[cursor_field] = api_time(floor - MICROSECOND)
        #: How many messages the same filter counts (taken before the first answer).
        self.expected = count(dict(self.filter))
        self.seen: set[int] = set()
        self.done = False
        self.resumed = False
        self.requests = 0
        self.emitted = 0
        #: None: complete. Otherwise how many are missing (None inside: unknown).
        self.shortfall: tuple[int | None] | None = None

    def body(self) -> dict[str, t.Any]:
        return {**self.filter, "limit": self.limit}

    def consume(self, page: MessagePage) -> list[dict[str, t.Any]]:
        self.requests += 1
        keys = page.keys(self.key)
        if not descending(keys):
            raise MessagesPagingError(
                f"POST /v1/messages/all did not answer newest first by `{self.key}`; stopping "
                "rather than risk losing messages"
            )
        out = []
        crossed = False
        for record, key in zip(page.records, keys, strict=True):
            new = record["id"] not in self.seen
            self.seen.add(record["id"])
            if self.floor is not None and key < self.floor:
                crossed = True  # everything at or after the floor is above it: all here
                continue
            if new:
                out.append(record)
        self.emitted += len(out)
        got = len(self.seen)
        if not page.records or crossed or (self.expected is not None and got >= self.expected):
            self.done = True
        elif len(page.records) >= self.limit and self.limit < TOP_MAX_LIMIT:
            # The API gave all that was asked: ask once more, for everything it counts.
            self.limit = min(TOP_MAX_LIMIT, max(2 * self.limit, (self.expected or 0) + 100))
        else:
            self.done = True
            missing = None if self.expected is None else self.expected - got
            self.shortfall = (missing,)
        return out

    def checkpoint(self) -> dict[str, t.Any] | None:
        return None  # one or two requests: a resumed run asks again

    def incomplete_groups(self) -> list[tuple[str, int]]:
        return []


Engine = CursorEngine | OffsetEngine | TopEngine
