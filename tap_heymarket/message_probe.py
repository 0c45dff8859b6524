"""The messages probe: a few small questions at the start of every run (message_walk.py).

`Prober.run` asks the API for the newest messages, then what its cursor means (an upper or
a lower bound, on `date` or on `updated`, `<` or `<=`), whether `order` and `ascending` are
honoured, and whether `page` pages. Each answer that proves something is recorded in
`Learned` (message_strategy.py); one that proves nothing leaves the conservative reading.
"""

from __future__ import annotations

import logging
import typing as t
from datetime import UTC, datetime, timedelta

from tap_heymarket.message_strategy import (
    LABEL,
    MICROSECOND,
    PAGE_PROBE_LIMIT,
    PAST,
    PROBE_LIMIT,
    Ask,
    CursorField,
    Key,
    Learned,
    MessagePage,
    MessagesPagingError,
    api_time,
    choose,
    descending,
)


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
        if not descending(top.dates):
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
        if not descending(answer.updated):
            learned.order_updated = False
            return None
        if not descending(answer.dates):
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
