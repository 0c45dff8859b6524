"""Reading `POST /v1/messages/all` without loss, whatever the API turns out to do.

The endpoint is the least settled part of Heymarket's docs (docs/api.md,
"Messages"). The prose names the cursor field `created_at`, the generated schema `date`;
the prose calls it "created BEFORE", third-party material and cached real answers a lower
bound ("on and after") that still returns the newest `limit` messages above it; whether
`order: "updated_at"` is honoured, and whether the cursor then filters on `updated`, is
unknown; `ascending` may be ignored; `limit` may be clamped; `page` is not documented.
Timestamps have microseconds with trailing zeros trimmed (`…55.021462Z`, `…12.946Z`,
`…12Z`): they are parsed and compared as instants, never as strings. A broadcast gives
hundreds of messages one `date`, and a message's delivery `status` moves its `updated`
after it was created.

So the tap assumes none of it. `Prober` (message_probe.py) asks a few small questions at
the start of every run and records what the answers prove (`Learned`,
message_strategy.py); an answer that proves nothing leaves the conservative reading.
`choose` then picks the best lossless walk the API allows:

    strategy        what the API must do                                      engine
    updated-desc    `order` honoured; the cursor an upper bound on `updated`  CursorEngine
    updated-asc     the same as a lower bound; `ascending` honoured           CursorEngine
    updated-offset  `order` and `page` honoured                               OffsetEngine
    created-desc    a cursor that is an upper bound on `date`                 CursorEngine
    created-asc     a lower bound on `date`; `ascending` honoured             CursorEngine
    created-offset  `page` honoured                                           OffsetEngine
    updated-top     `order` honoured, nothing else                            TopEngine
    created-top     nothing                                                   TopEngine

The engines are in message_engines.py.

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
docs/messages.md, "What a walk by creation time cannot catch"). Every answer is checked
against what the probe learned (order, and the cursor's bound); an answer that contradicts it
stops the sync with one line, rather than risk losing messages in silence.

This module holds `MessageWalk`, one run's walk: the chosen engine, its floor and the
bookmarks it reads.
"""

from __future__ import annotations

import logging
import typing as t
from datetime import datetime, timedelta

from tap_heymarket import timestamps
from tap_heymarket.message_engines import CursorEngine, Engine, OffsetEngine, TopEngine
from tap_heymarket.message_strategy import (
    BY_UPDATED,
    Count,
    Key,
    Learned,
    MessagePage,
    Strategy,
)

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
            self.floor = timestamps.floor_of(bookmark_updated or bookmark_date, start_date)
        else:
            floor = timestamps.floor_of(bookmark_date or bookmark_updated, start_date)
            self.floor = floor - lookback if floor is not None else None
        resume = self._resumable(saved)
        engine_state = resume.get("engine") if resume else None
        self.engine = self._engine(learned, page_size, engine_state, count, logger)
        self.resumed = bool(resume) and self.engine.resumed
        self.max_updated: datetime | None = None
        self.max_date: datetime | None = None
        self.emitted = 0
        if self.resumed and resume:
            self.max_updated = timestamps.parse_optional(resume.get("max_updated"))
            self.max_date = timestamps.parse_optional(resume.get("max_date"))
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
