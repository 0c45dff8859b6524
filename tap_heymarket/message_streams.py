"""The `messages` stream: `POST /v1/messages/all`, incremental on `updated`.

How the walk is chosen and why it loses nothing is in `message_walk.py`. This module is
the SDK side: the probe's requests (paced and retried like every request), decoding and
checking each answer, STATE after every page, the bookmarks, and the end-of-walk report.

STATE of the stream, and the rules that read and write it, are in `message_bookmark.py`.
"""

from __future__ import annotations

import typing as t
from datetime import timedelta

from singer_sdk import StreamSchema
from singer_sdk.pagination import BaseAPIPaginator

from tap_heymarket import timestamps
from tap_heymarket.answers import parsed_times
from tap_heymarket.client import SCHEMAS, HeymarketStream
from tap_heymarket.loss_report import report_incomplete_groups
from tap_heymarket.message_bookmark import (
    read_bookmarks,
    record_page,
    record_strategy,
)
from tap_heymarket.message_probe import Prober
from tap_heymarket.message_strategy import BY_UPDATED, Learned, MessagePage, choose
from tap_heymarket.message_walk import MessageWalk
from tap_heymarket.run_log import plural

if t.TYPE_CHECKING:
    import requests
    from singer_sdk.helpers.types import Context

    from tap_heymarket.walk_state import Page


class MessageRequest:
    """One page token: the body to send. Compared by identity (never a false loop)."""

    def __init__(self, body: dict[str, t.Any]) -> None:
        self.body = body

    def __repr__(self) -> str:
        return f"MessageRequest({self.body})"


class MessagePaginator(BaseAPIPaginator[MessageRequest]):
    """The SDK's view of a `MessageWalk`: the next body, until the walk is done."""

    def __init__(self, walk: MessageWalk) -> None:
        self.walk = walk
        super().__init__(MessageRequest(walk.body()))

    def has_more(self, response: requests.Response) -> bool:
        return not self.walk.done

    def get_next(self, response: requests.Response) -> MessageRequest | None:
        return None if self.walk.done else MessageRequest(self.walk.body())

    def continue_if_empty(self, response: requests.Response) -> bool:
        """An answer of messages already read is not the end of the walk."""
        return not self.walk.done


class MessagesStream(HeymarketStream):
    """Messages, from `POST /v1/messages/all` (team-wide), incremental on `updated`."""

    name = "messages"
    path = "/v1/messages/all"
    count_path = "/v1/messages/all/count"
    primary_keys = ("id",)
    replication_key = "updated"
    is_sorted = False
    schema = StreamSchema(SCHEMAS)
    #: `date` places a message in the walk: parsed strictly in `decode`, like `updated`.
    checked_fields = ("date",)
    #: `media` is a string in the docs; a list of URLs (MMS) goes to `media_list`.
    alternate_columns = {"media": "media_list"}

    def __init__(self, *args: t.Any, **kwargs: t.Any) -> None:
        super().__init__(*args, **kwargs)
        self._paginator: MessagePaginator | None = None

    # -- answers -------------------------------------------------------------------------

    def decode(self, response: requests.Response) -> Page:
        """The base checks, then every message's `date` and `updated`, which the walk needs.

        A message without a parsable `date` or `updated` cannot be placed in the walk, so
        the answer is malformed (retried, then fatal), as for contacts' `updated`.
        """
        page = super().decode(response)
        dates = parsed_times(page, response, "date", "message")
        updated = parsed_times(page, response, "updated", "message")
        return MessagePage(records=page.records, updated=updated, dates=dates)

    def _ask(self, body: dict[str, t.Any]) -> MessagePage | None:
        """One probe: paced, retried and decoded like a page; None for a 400 answer."""
        return self.call(self.path, body, self._read_probe)

    def _read_probe(self, response: requests.Response) -> MessagePage | None:
        if response.status_code == 400:
            return None
        self.check_status(response)
        return t.cast("MessagePage", self.decode(response))

    # -- the walk ------------------------------------------------------------------------

    def get_new_paginator(self) -> MessagePaginator:
        """Probe the API, choose the walk, and resume an interrupted one if it still fits."""
        state = self.get_context_state(None)
        stored = read_bookmarks(state)
        prober = Prober(self._ask, self.logger)
        learned = prober.run(Learned.from_state(stored.learned))
        strategy = choose(learned)
        lookback = timedelta(hours=self.settings.messages_lookback_hours)
        self.logger.info(
            "%s: probed the API in %s: %s",
            self.name,
            plural(prober.requests, "request"),
            learned.describe(),
        )
        start = self.settings.start_date
        walk = MessageWalk(
            strategy=strategy,
            learned=learned,
            page_size=self.settings.page_size,
            bookmark_updated=stored.updated,
            bookmark_date=stored.date,
            start_date=timestamps.parse(str(start)) if start else None,
            lookback=lookback,
            saved=stored.walk,
            count=self.count,
            logger=self.logger,
        )
        record_strategy(state, strategy, learned)
        self._log_strategy(walk, lookback)
        if stored.walk and not walk.resumed:
            self.logger.info(
                "%s: the interrupted walk does not fit this run's; starting over", self.name
            )
        elif walk.resumed:
            self.logger.info("%s: resuming an interrupted %s walk", self.name, strategy)
        self._paginator = MessagePaginator(walk)
        return self._paginator

    def _log_strategy(self, walk: MessageWalk, lookback: timedelta) -> None:
        floor = timestamps.normalize(walk.floor) if walk.floor else None
        if walk.strategy in BY_UPDATED:
            self.logger.info(
                "%s: strategy %s: walking by `updated` %s; every status change is caught",
                self.name,
                walk.strategy,
                f"down to {floor}" if floor else "(full sync)",
            )
            return
        hours = lookback.total_seconds() / 3600
        missed = (
            f"a status change to a message created before {floor} is not caught"
            if floor
            else "later incremental runs will not catch a status change to a message "
            "created more than that before the newest one read"
        )
        self.logger.info(
            "%s: strategy %s: the API offers no way to walk by `updated`, so the walk goes by "
            "created `date` %s with a lookback of %g h (messages_lookback_hours); %s until a "
            "full sync",
            self.name,
            walk.strategy,
            f"down to {floor}," if floor else "(full sync),",
            hours,
            missed,
        )

    def prepare_request_payload(
        self, context: Context | None, next_page_token: MessageRequest | None
    ) -> dict | None:
        """The body the walk asks for."""
        assert next_page_token is not None
        return next_page_token.body

    def parse_response(self, response: requests.Response) -> t.Iterable[dict]:
        """Emit the page's new messages, then checkpoint the walk in STATE."""
        paginator = self._paginator
        assert paginator is not None
        page = t.cast("MessagePage", self.decoded_page(response))
        records = paginator.walk.consume(page)
        yield from records
        self._checkpoint(paginator.walk)

    # -- STATE and the end of the walk ----------------------------------------------------

    def _checkpoint(self, walk: MessageWalk) -> None:
        state = self.get_context_state(None)
        if record_page(state, walk):
            state.pop("progress_markers", None)
            if state.get("replication_key_value"):
                state["replication_key"] = self.replication_key
            self._report(walk)
        self.write_state_now()

    def _report(self, walk: MessageWalk) -> None:
        """One INFO summary; a WARNING (and metrics) for anything that may be missing."""
        self.logger.info(
            "%s: walk complete: %s read in %s (strategy %s)",
            self.name,
            plural(walk.emitted, "message"),
            plural(walk.requests, "request"),
            walk.strategy,
        )
        full = walk.floor is None and not walk.resumed
        groups = walk.incomplete_groups()
        shortfall = walk.shortfall
        total = walk.count_start
        if total is None and full and groups:
            total = self.count({})
        counted_missing = None if total is None or not full else max(total - walk.emitted, 0)
        if groups:
            missing = report_incomplete_groups(
                self.logger,
                self.name,
                groups,
                emitted=walk.emitted,
                total=total if full else None,
                noun="message",
            )
            if missing != 0:
                self.metric("tie_groups_incomplete", len(groups))
                if missing is not None:
                    self.metric("records_missed", missing)
            return
        if shortfall is not None:
            missing = shortfall[0]
            floor = timestamps.normalize(walk.floor) if walk.floor else None
            self.logger.warning(
                "%s: the API shows only the newest messages (a lower-bound cursor without "
                "`ascending` or `page`) and clamps `limit`: %s messages %s could not be "
                "reached",
                self.name,
                missing if missing is not None else "an unknown number of",
                f"with {walk.key} at or after {floor}" if floor else "in all",
            )
            if missing is not None:
                self.metric("records_missed", missing)
            return
        if counted_missing:
            self.logger.warning(
                "%s: the API counts %d messages but %d were read: %d are missing",
                self.name,
                total,
                walk.emitted,
                counted_missing,
            )
            self.metric("records_missed", counted_missing)
        elif total is not None:
            self.logger.info("%s: the API counts %d messages; all were read", self.name, total)

    def _increment_stream_state(
        self,
        latest_record: dict,
        *,
        context: Context | None = None,
    ) -> None:
        """The walk manages the bookmarks itself (see `_checkpoint`)."""


__all__ = ["MessagesStream"]
