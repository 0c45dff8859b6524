"""Reading `POST /v1/messages/all` without loss, whatever the API turns out to do.

The endpoint is the least settled part of Heymarket's docs (../shared/heymarket-api.md,
"Messages"). The prose names the cursor field `created_at`, the generated schema `date`;
the prose calls it "created BEFORE", third-party material and cached real answers a lower
bound ("on and after") that still returns the newest `limit` messages above it; whether
`order: "updated_at"` is honoured, and whether the cursor then filters on `updated`, is
unknown; `ascending` may be ignored; `limit` may be clamped; `page` is not documented.
Timestamps have microseconds with trailing zeros trimmed (`…55.021462Z`, `…12.946Z`,
`…12Z`): they are parsed and compared as instants, never as strings. A broadcast gives
hundreds of messages one `date`, and a message's delivery `status` moves its `updated`
after it was created.

So the tap assumes none of it. `Prober` asks a few small questions at the start of every
run and records what the answers prove (`Learned`); an answer that proves nothing leaves
the conservative reading. `choose` then picks the best lossless walk the API allows:

    strategy        what the API must do                                      engine
    updated-desc    `order` honoured; the cursor an upper bound on `updated`  CursorEngine
    updated-asc     the same as a lower bound; `ascending` honoured           CursorEngine
    updated-offset  `order` and `page` honoured                               OffsetEngine
    created-desc    a cursor that is an upper bound on `date`                 CursorEngine
    created-asc     a lower bound on `date`; `ascending` honoured             CursorEngine
    created-offset  `page` honoured                                           OffsetEngine
    updated-top     `order` honoured, nothing else                            TopEngine
    created-top     nothing                                                   TopEngine

* `CursorEngine` is the contacts walker (`pagination.UpdatedCursorPaginator`: ties, `<`
  versus `<=`, clamps and `page` inside tie groups, learned from the answers) on the walk's
  key. For an ascending walk over a lower bound it runs in mirrored time (t -> 2P - t): the
  oldest message becomes the "newest", "at or after" becomes "at or before", and the
  walker's proofs carry over unchanged.
* `OffsetEngine` pages by `page` through the list sorted newest first by its key. A message
  only ever moves to the top (a status change) or arrives there (a new message), which
  shifts what is below it down: a page may repeat records (skipped: anything above the last
  key emitted was emitted), but none is skipped.
* `TopEngine` is what is left when the API only ever shows the newest `limit` messages: it
  asks for all of them in one answer (the count endpoint says how many), and reports
  exactly how many it could not reach when the API clamps `limit`.

`created-*` strategies walk by creation time, which cannot see a status change on an old
message: each incremental run re-reads the messages created within `messages_lookback_hours`
before the bookmark, and a change to an older message waits for the next full sync (see
the README, "Messages: what the tap can and cannot catch"). Every answer is checked against
what the probe learned (order, and the cursor's bound); an answer that contradicts it stops
the sync with one line, rather than risk losing messages in silence.
"""

from __future__ import annotations

import itertools
import logging
import typing as t
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from tap_heymarket import timestamps
from tap_heymarket.errors import HeymarketFatalError
from tap_heymarket.pagination import UpdatedCursorPaginator
from tap_heymarket.walk_state import MAX_REVS, Page, PageMode, PageRequest, WalkMemory

Key = t.Literal["updated", "date"]
CursorField = t.Literal["created_at", "date"]
Bound = t.Literal["before", "after"]
Strategy = t.Literal[
    "updated-desc",
    "updated-asc",
    "updated-offset",
    "created-desc",
    "created-asc",
    "created-offset",
    "updated-top",
    "created-top",
]
STRATEGIES: tuple[Strategy, ...] = t.get_args(Strategy)
#: Strategies that walk by `updated`: every status change is caught.
BY_UPDATED = frozenset(s for s in STRATEGIES if s.startswith("updated"))

#: Before any message: an upper bound here answers nothing, a lower bound everything.
PAST = datetime(2000, 1, 1, tzinfo=UTC)
#: Records asked for by the probe's questions about order.
PROBE_LIMIT = 20
#: Records per page while probing `page`.
PAGE_PROBE_LIMIT = 3
#: The largest `limit` the tap asks for when the API shows only the newest messages.
TOP_MAX_LIMIT = 100_000
MICROSECOND = timedelta(microseconds=1)
#: Mirror of an ascending walk: t -> 2 * PIVOT - t (exact, and keeps the precision).
PIVOT = datetime(2500, 1, 1, tzinfo=UTC)
#: Requests in a row that may bring nothing new to an offset walk before it fails loudly.
#: Messages arriving during the walk shift pages down, so a few such pages are normal; a
#: last line of defence against an API that stops honouring `page` mid-walk.
MAX_OFFSET_STALLS = 200
#: Prefix of every log line and error of the stream.
LABEL = "messages"

#: One question to the API: a body -> the decoded answer, or None for a 400 (rejected).
Ask = t.Callable[[dict[str, t.Any]], "MessagePage | None"]
#: `POST /v1/messages/all/count` with a body -> the number, or None when unavailable.
Count = t.Callable[[dict[str, t.Any]], "int | None"]


class MessagesPagingError(HeymarketFatalError):
    """The API answered against what the probe proved: stop instead of losing messages."""


@dataclass
class MessagePage(Page):
    """A decoded answer: records, their parsed `updated`, and their parsed `date`."""

    dates: list[datetime] = field(default_factory=list)

    def keys(self, key: Key) -> list[datetime]:
        return self.updated if key == "updated" else self.dates


def api_time(value: datetime) -> str:
    """A cursor for the API: RFC 3339, UTC, six fraction digits."""
    return timestamps.to_api(value, MICROSECOND)


def mirror(value: datetime) -> datetime:
    """The ascending walk's time: order reversed, differences kept (its own inverse)."""
    return PIVOT + (PIVOT - value)


def _descending(values: list[datetime]) -> bool:
    return all(a >= b for a, b in itertools.pairwise(values))


# -- what the API does ---------------------------------------------------------------------


@dataclass
class Learned:
    """What the probe's answers proved about the API.

    Each behaviour is True/False (or a value) when an answer proved it either way, and None
    when the answers could not tell (too few messages, or none whose order differs between
    `date` and `updated`). `choose` takes None as absent; `merge` fills it from what an
    earlier run proved, so a quiet moment in the data does not downgrade the walk (every
    answer is still checked against what the walk relies on).
    """

    #: The API listed at least one message (with none, nothing can be learned).
    messages_seen: bool = False
    cursor_field: CursorField | None = None
    bound: Bound | None = None
    ascending: bool | None = None
    order_updated: bool | None = None
    cursor_on_updated: bool | None = None
    page_mode: PageMode | None = None

    def to_state(self) -> dict[str, t.Any]:
        return {
            "messages_seen": self.messages_seen,
            "cursor_field": self.cursor_field,
            "bound": self.bound,
            "ascending": self.ascending,
            "order_updated": self.order_updated,
            "cursor_on_updated": self.cursor_on_updated,
            "page_mode": self.page_mode,
        }

    @classmethod
    def from_state(cls, data: t.Any) -> Learned:
        """Tolerant: values it does not recognise are left unknown."""
        out = cls()
        if not isinstance(data, dict):
            return out
        out.messages_seen = data.get("messages_seen") is True
        if data.get("cursor_field") in ("created_at", "date"):
            out.cursor_field = data["cursor_field"]
        if data.get("bound") in ("before", "after"):
            out.bound = data["bound"]
        for name in ("ascending", "order_updated", "cursor_on_updated"):
            if isinstance(data.get(name), bool):
                setattr(out, name, data[name])
        if data.get("page_mode") in ("zero", "one", "ignored"):
            out.page_mode = data["page_mode"]
        return out

    def merge(self, earlier: Learned) -> Learned:
        """This run's findings, with what it could not tell taken from an earlier run."""
        if not earlier.messages_seen:
            return self
        if not self.messages_seen:
            return Learned(**{**earlier.to_state(), "messages_seen": False})
        out = Learned(**self.to_state())
        if out.cursor_field == earlier.cursor_field and out.bound == earlier.bound:
            for name in ("ascending", "cursor_on_updated"):
                if getattr(out, name) is None:
                    setattr(out, name, getattr(earlier, name))
        if out.order_updated is None:
            out.order_updated = earlier.order_updated
        if out.page_mode is None:
            out.page_mode = earlier.page_mode
        return out

    def describe(self) -> str:
        if self.cursor_field is None and self.bound is None and not self.messages_seen:
            return "the API listed no message, so nothing could be learned"
        parts = [] if self.messages_seen else ["no message listed; as learned before:"]
        if self.cursor_field is None:
            parts.append("neither `created_at` nor `date` is read as a cursor")
        else:
            side = "created before it" if self.bound == "before" else "created at or after it"
            parts.append(f"the cursor is `{self.cursor_field}`, read as {side}")
        if self.bound == "after":
            parts.append(f"`ascending` {_proved(self.ascending)}")
        parts.append(f"`order: updated_at` {_proved(self.order_updated)}")
        if self.order_updated and self.cursor_field:
            on = {True: "`updated`", False: "the created `date`", None: "(could not tell)"}
            parts.append(f"with it the cursor filters on {on[self.cursor_on_updated]}")
        if self.page_mode is not None:
            parts.append(
                "`page` is ignored"
                if self.page_mode == "ignored"
                else f"`page` counts from {0 if self.page_mode == 'zero' else 1}"
            )
        return "; ".join(parts)


def _proved(value: bool | None) -> str:
    return {True: "is honoured", False: "is not honoured", None: "could not be proved"}[value]


def choose(learned: Learned) -> Strategy:
    """The best walk the API allows (see the module docstring's table)."""
    by_updated_cursor = (
        learned.order_updated is True
        and learned.cursor_field is not None
        and learned.cursor_on_updated is True
    )
    if by_updated_cursor and learned.bound == "before":
        return "updated-desc"
    if by_updated_cursor and learned.bound == "after" and learned.ascending is True:
        return "updated-asc"
    paged = learned.page_mode in ("zero", "one")
    if learned.order_updated is True and paged:
        return "updated-offset"
    if learned.cursor_field is not None and learned.bound == "before":
        return "created-desc"
    if learned.cursor_field is not None and learned.bound == "after" and learned.ascending is True:
        return "created-asc"
    if paged:
        return "created-offset"
    return "updated-top" if learned.order_updated is True else "created-top"


class Prober:
    """Small questions whose answers prove how the API reads each part of the body.

    Only evidence counts: a behaviour the answers cannot prove either way (too few
    messages, none whose order differs between `date` and `updated`) stays unknown, is
    taken from an earlier run's findings when there are some, and is otherwise taken to be
    absent, which only ever chooses a more conservative walk.
    """

    def __init__(self, ask: Ask, logger: logging.Logger) -> None:
        self.ask = ask
        self.logger = logger
        self.requests = 0

    def _ask(self, body: dict[str, t.Any]) -> MessagePage | None:
        self.requests += 1
        answer = self.ask(body)
        if answer is None:
            self.logger.info("%s: the API rejected %s with 400 bad_data", LABEL, sorted(body))
        return answer

    def run(self, earlier: Learned | None = None) -> Learned:
        """Probe the API; `earlier`: what a previous run proved (kept in STATE)."""
        earlier = earlier or Learned()
        learned = Learned()
        top = self._ask({"limit": PROBE_LIMIT})
        if top is None:
            raise MessagesPagingError(
                f"POST /v1/messages/all rejected a plain {{limit: {PROBE_LIMIT}}} body with "
                "400 bad_data; the tap cannot read messages"
            )
        if not top.records:
            return learned.merge(earlier)
        if not _descending(top.dates):
            raise MessagesPagingError(
                "POST /v1/messages/all does not list messages newest first by `date`, as "
                "documented; the tap cannot page through it safely"
            )
        learned.messages_seen = True
        self._learn_cursor(learned, top.dates[0])
        if learned.bound == "after":
            self._learn_ascending(learned, top)
        ordered = self._learn_order(learned)
        learned = learned.merge(earlier)
        if ordered is not None and learned.order_updated and learned.cursor_field is not None:
            found = Learned(**learned.to_state())
            found.cursor_on_updated = None
            self._learn_cursor_on_updated(found, ordered)
            if found.cursor_on_updated is not None:
                learned.cursor_on_updated = found.cursor_on_updated
        strategy = choose(learned)
        if strategy not in ("updated-desc", "updated-asc") and (
            learned.order_updated or strategy.endswith("-top")
        ):
            page_mode = learned.page_mode
            learned.page_mode = None
            self._learn_page(learned)
            learned.page_mode = learned.page_mode or page_mode
        return learned

    def _learn_cursor(self, learned: Learned, newest: datetime) -> None:
        """An upper bound before every message answers nothing; a lower bound past every
        message answers nothing; a field that is not read answers the newest either way."""
        future = max(newest, datetime.now(UTC)) + timedelta(days=30)
        names: tuple[CursorField, ...] = ("created_at", "date")
        for name in names:
            low = self._ask({name: api_time(PAST), "limit": 1})
            if low is None:
                continue
            high = self._ask({name: api_time(future), "limit": 1})
            if high is None:
                continue
            if not low.records and high.records:
                learned.cursor_field, learned.bound = name, "before"
                return
            if low.records and not high.records:
                learned.cursor_field, learned.bound = name, "after"
                return
            if not low.records and not high.records:
                self.logger.info(
                    "%s: the API answers nothing whenever `%s` is set; not using it", LABEL, name
                )

    def _learn_ascending(self, learned: Learned, top: MessagePage) -> None:
        """Under a lower bound at PAST, `ascending` (if honoured) starts with the oldest;
        otherwise with the newest, which proves it ignored once two dates differ."""
        assert learned.cursor_field is not None
        body = {learned.cursor_field: api_time(PAST), "ascending": True, "limit": 2}
        answer = self._ask(body)
        newest = top.dates[0]
        if answer is None:
            learned.ascending = False
        elif answer.records and answer.dates[0] < newest:
            learned.ascending = True
        elif min(top.dates) < newest:
            learned.ascending = False

    def _learn_order(self, learned: Learned) -> MessagePage | None:
        """Honoured: sorted by `updated` with `date` out of order. Not: not sorted by
        `updated`. Sorted by both proves nothing. Returns the answer if sorted by `updated`."""
        answer = self._ask({"order": "updated_at", "limit": PROBE_LIMIT})
        if answer is None:
            learned.order_updated = False
            return None
        if not answer.records:
            return None
        if not _descending(answer.updated):
            learned.order_updated = False
            return None
        if not _descending(answer.dates):
            learned.order_updated = True
        return answer

    def _learn_cursor_on_updated(self, learned: Learned, ordered: MessagePage) -> None:
        """With `order: updated_at`, does the cursor filter on `updated` or on `date`?

        Take a message m whose `updated` is well after its `date`, and a cursor X between
        them. Sorted by `updated`, an upper bound X on `date` keeps m, so the answer starts
        at or above m's `updated` (> X); on `updated` it starts at or below X. A lower
        bound X on `updated` keeps m, whose `date` is below X; on `date` it cannot.
        """
        cursor_field = learned.cursor_field
        assert cursor_field is not None
        pairs = zip(ordered.dates, ordered.updated, strict=True)
        late = [i for i, (d, u) in enumerate(pairs) if u - d >= 2 * MICROSECOND]
        if not late:
            return
        position = late[0]
        date, updated = ordered.dates[position], ordered.updated[position]
        middle = date + (updated - date) // 2
        body: dict[str, t.Any] = {"order": "updated_at", cursor_field: api_time(middle)}
        if learned.bound == "before":
            answer = self._ask({**body, "limit": 1})
            if answer is None:
                return
            learned.cursor_on_updated = not answer.records or answer.updated[0] <= middle
            return
        answer = self._ask({**body, "limit": max(PROBE_LIMIT, position + 1)})
        if answer is None or not answer.records:
            return
        learned.cursor_on_updated = all(u >= middle for u in answer.updated) and any(
            d < middle for d in answer.dates
        )

    def _learn_page(self, learned: Learned) -> None:
        """`page` 1 continues page 0 (0-based); or equals it and `page` 2 continues (1-based)."""
        base: dict[str, t.Any] = {"limit": PAGE_PROBE_LIMIT}
        key: Key = "date"
        if learned.order_updated:
            base["order"], key = "updated_at", "updated"
        first = self._ask(base)
        if first is None or len(first.records) < PAGE_PROBE_LIMIT:
            return  # everything fits in one page: `page` does not matter now
        second = self._ask({**base, "page": 1})
        if second is None:
            learned.page_mode = "ignored"
            return
        if _ids(second) != _ids(first):
            learned.page_mode = "zero" if _continues(second, first, key) else "ignored"
            return
        third = self._ask({**base, "page": 2})
        learned.page_mode = (
            "one" if third is not None and _continues(third, first, key) else "ignored"
        )


def _ids(page: MessagePage) -> list[int]:
    return [r["id"] for r in page.records]


def _continues(later: MessagePage, first: MessagePage, key: Key) -> bool:
    """`later` holds other messages than `first`, none of them newer."""
    if not later.records:
        return True
    if set(_ids(later)) & set(_ids(first)):
        return False
    return max(later.keys(key)) <= min(first.keys(key))


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
        if not _descending(walker):
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
        if not _descending(keys):
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
        if not _descending(keys):
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


# -- one run's walk ----------------------------------------------------------------------


class MessageWalk:
    """The walk of one run: the strategy's engine, the bookmarks, and the loss accounting.

    `updated-*` walks go down to (or up from) the `updated` bookmark; `created-*` walks to
    the created-`date` bookmark minus the lookback. Both bookmarks move only when a walk
    completes, each to the newest value read, so neither is ever ahead of data read.
    """

    def __init__(
        self,
        *,
        strategy: Strategy,
        learned: Learned,
        page_size: int,
        bookmark_updated: datetime | None,
        bookmark_date: datetime | None,
        start_date: datetime | None,
        lookback: timedelta,
        saved: t.Any,
        count: Count,
        logger: logging.Logger,
    ) -> None:
        self.strategy = strategy
        self.key: Key = "updated" if strategy in BY_UPDATED else "date"
        self.start_date = start_date
        if self.key == "updated":
            candidates = [v for v in (bookmark_updated or bookmark_date, start_date) if v]
            self.floor = max(candidates) if candidates else None
        else:
            candidates = [v for v in (bookmark_date or bookmark_updated, start_date) if v]
            self.floor = max(candidates) - lookback if candidates else None
        resume = self._resumable(saved)
        engine_state = resume.get("engine") if resume else None
        self.engine = self._engine(learned, page_size, engine_state, count, logger)
        self.resumed = bool(resume) and self.engine.resumed
        self.max_updated: datetime | None = None
        self.max_date: datetime | None = None
        self.emitted = 0
        if self.resumed and resume:
            self.max_updated = _time_or_none(resume.get("max_updated"))
            self.max_date = _time_or_none(resume.get("max_date"))
            self.emitted = int(resume.get("emitted") or 0)
        #: A full sync by `date` checks the API's count (nothing leaves that order).
        self.count_start: int | None = None
        if self.floor is None and self.key == "date" and not self.resumed:
            self.count_start = count({})

    def _resumable(self, saved: t.Any) -> dict[str, t.Any] | None:
        if not isinstance(saved, dict) or saved.get("strategy") != self.strategy:
            return None
        floor = timestamps.normalize(self.floor) if self.floor else None
        return saved if saved.get("floor") == floor else None

    def _engine(
        self,
        learned: Learned,
        page_size: int,
        saved: t.Any,
        count: Count,
        logger: logging.Logger,
    ) -> Engine:
        saved = saved if isinstance(saved, dict) else None
        strategy = self.strategy
        if strategy.endswith(("-desc", "-asc")):
            assert learned.cursor_field is not None
            return CursorEngine(
                key=self.key,
                ascending=strategy.endswith("-asc"),
                cursor_field=learned.cursor_field,
                page_size=page_size,
                floor=self.floor,
                saved=saved,
                logger=logger,
            )
        if strategy.endswith("-offset"):
            assert learned.page_mode in ("zero", "one")
            return OffsetEngine(
                key=self.key,
                page_mode=learned.page_mode,
                page_size=page_size,
                floor=self.floor,
                saved=saved,
            )
        lower_bound_on_key = learned.bound == "after" and (
            self.key == "date" or learned.cursor_on_updated
        )
        return TopEngine(
            key=self.key,
            cursor_field=learned.cursor_field if lower_bound_on_key else None,
            page_size=page_size,
            floor=self.floor,
            count=count,
        )

    @property
    def done(self) -> bool:
        return self.engine.done

    def body(self) -> dict[str, t.Any]:
        return self.engine.body()

    def consume(self, page: MessagePage) -> list[dict[str, t.Any]]:
        """The page's messages to emit (each at most once per run, in a static API)."""
        records = self.engine.consume(page)
        if not records:
            return records
        if records == page.records:
            updated, dates = page.updated, page.dates  # the whole page (the usual case)
        else:
            where = {r["id"]: i for i, r in enumerate(page.records)}
            rows = [where[record["id"]] for record in records]
            updated = [page.updated[i] for i in rows]
            dates = [page.dates[i] for i in rows]
        newest, latest = max(updated), max(dates)
        if self.max_updated is None or newest > self.max_updated:
            self.max_updated = newest
        if self.max_date is None or latest > self.max_date:
            self.max_date = latest
        self.emitted += len(records)
        start = self.start_date
        if start is None:
            return list(records)
        # Those updated before start_date were read for the lookback only.
        return [record for record, at in zip(records, updated, strict=True) if at >= start]

    def checkpoint(self) -> dict[str, t.Any] | None:
        engine = self.engine.checkpoint()
        if engine is None or self.done:
            return None
        return {
            "strategy": self.strategy,
            "floor": timestamps.normalize(self.floor) if self.floor else None,
            "engine": engine,
            "max_updated": timestamps.normalize(self.max_updated) if self.max_updated else None,
            "max_date": timestamps.normalize(self.max_date) if self.max_date else None,
            "emitted": self.emitted,
        }

    def incomplete_groups(self) -> list[tuple[str, int]]:
        return self.engine.incomplete_groups()

    @property
    def shortfall(self) -> tuple[int | None] | None:
        return self.engine.shortfall if isinstance(self.engine, TopEngine) else None

    @property
    def requests(self) -> int:
        return self.engine.requests


def _time_or_none(value: t.Any) -> datetime | None:
    try:
        return timestamps.parse(value) if value else None
    except ValueError:
        return None
