"""The parent of every stream walked by `updated`, newest first: `UpdatedCursorStream`.

The walk is the tie-safe walker of pagination.py; its entry in STATE is kept by
bookmark.py (the floor, the resume, the one promotion rule; the layout is in
state_keys.py). Tags, templates and contacts build on it through `SweptStream`
(swept_stream.py); each conversations walk uses it per inbox and status.
"""

from __future__ import annotations

import typing as t
from datetime import datetime

from singer_sdk.pagination import BaseAPIPaginator

from tap_heymarket.answers import with_cursor_values
from tap_heymarket.bookmark import record_page, resume_walker, walk_floor
from tap_heymarket.client import HeymarketStream
from tap_heymarket.loss_report import report_incomplete_groups
from tap_heymarket.pagination import UpdatedCursorPaginator
from tap_heymarket.state_keys import BOOKMARK_KEY
from tap_heymarket.walk_state import PageRequest

if t.TYPE_CHECKING:
    import requests
    from singer_sdk.helpers.types import Context

    from tap_heymarket.walk_state import Page


class UpdatedCursorStream(HeymarketStream):
    """A newest-first list walked by `updated` (see `pagination.py`), resumable mid-walk.

    State holds, besides the usual `replication_key_value` bookmark, a `walk` object
    written after every page: `{"floor", "top", "cursor", "kind", "learned",
    "revs_at_top"}`. A sync killed mid-walk resumes from `cursor` instead of starting
    over, and at most one page is read again. The bookmark moves only when a walk
    completes, to the newest `updated` that walk emitted, so it is never later than data
    actually read. With it goes `revs_at_bookmark`, the `[id, rev]` of each record
    emitted at exactly the bookmark: the next run skips those records while their rev is
    unchanged, so an unchanged rerun emits nothing.
    """

    replication_key = "updated"
    is_sorted = False
    #: Documented page size of the endpoint, when it is fixed (tags: 30).
    fixed_page_size: int | None = None

    def __init__(self, *args: t.Any, **kwargs: t.Any) -> None:
        super().__init__(*args, **kwargs)
        self.walker: UpdatedCursorPaginator | None = None

    def decode(self, response: requests.Response) -> Page:
        """The base class's checks, then every record's `updated`, which the walk needs."""
        return with_cursor_values(super().decode(response), response)

    @property
    def page_size(self) -> int:
        """`page_size` from config, or the endpoint's fixed page."""
        return self.fixed_page_size or self.settings.page_size

    def _floor(self, context: Context | None) -> datetime | None:
        """Oldest `updated` to extract (`bookmark.walk_floor`)."""
        return walk_floor(self.get_context_state(context), self.settings.start_date)

    def get_new_paginator(self) -> BaseAPIPaginator[PageRequest]:
        """A walker from the top, or from the cursor of an interrupted walk."""
        walker = resume_walker(
            self.get_context_state(None),
            floor=self._floor(None),
            page_size=self.page_size,
            logger=self.logger,
            label=self.name,
        )
        self.walker = walker
        return walker

    def prepare_request_payload(
        self,
        context: Context | None,
        next_page_token: PageRequest | None,
    ) -> dict | None:
        """The walk's `date`/`limit`/`page` body."""
        token = next_page_token or PageRequest(date=None, limit=self.page_size)
        return token.body()

    def parse_response(self, response: requests.Response) -> t.Iterable[dict]:
        """Emit the page's new records, then checkpoint the walk in STATE."""
        walker = self.walker
        assert walker is not None
        records = walker.consume(self.decoded_page(response))
        yield from records
        # Runs once every record of this page has been written (the SDK pulls the
        # next record only after it emitted the previous one).
        self._checkpoint(walker)

    def _checkpoint(self, walker: UpdatedCursorPaginator) -> None:
        """The walk's progress, or its new bookmark at its end (`bookmark.record_page`)."""
        state = self.get_context_state(None)
        if record_page(state, walker):
            state.pop("progress_markers", None)
            if state.get(BOOKMARK_KEY):
                state["replication_key"] = self.replication_key
            self._log_walk_summary(walker)
        self.write_state_now()

    def _log_walk_summary(self, walker: UpdatedCursorPaginator) -> None:
        self.logger.info("%s: walk complete: %s", self.name, walker.summary())
        if walker.memory.incomplete_groups:
            self._report_possible_loss(walker)

    def _report_possible_loss(self, walker: UpdatedCursorPaginator) -> None:
        """Say which tie groups could not be read in full, and what that may cost.

        A full sync that was not resumed compares the API's count with the records it
        extracted, which gives the exact shortfall (and clears a false alarm when nothing
        is missing). Otherwise the number missing is unknown: the groups are named and
        counted.
        """
        groups = walker.memory.incomplete_groups
        full = self.count_path and walker.floor is None and not walker.resumed
        missing = report_incomplete_groups(
            self.logger,
            self.name,
            groups,
            emitted=walker.emitted,
            total=self.api_count() if full else None,
        )
        if missing != 0:
            self.metric("tie_groups_incomplete", len(groups))
            if missing is not None:
                self.metric("records_missed", missing)

    def count_body(self) -> dict[str, t.Any]:
        """The body of the count request: empty, unless the endpoint needs filters."""
        return {}

    def api_count(self) -> int | None:
        """The API's count of the stream's records (`HeymarketStream.count`)."""
        return self.count(self.count_body())

    def _increment_stream_state(
        self,
        latest_record: dict,
        *,
        context: Context | None = None,
    ) -> None:
        """The walk manages the bookmark itself (see the class docstring).

        The SDK's per-record bookmarking assumes ascending order; this API is newest
        first, so a per-record bookmark would be wrong until the walk ends.
        """
