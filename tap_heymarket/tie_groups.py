"""Reading a tie group larger than the server's page, by `page` offsets.

A date cursor cannot get past a group of records sharing one `updated` when the server
answers fewer records than the group holds (it clamps `limit`). `TieGroupReader`, held by
the walker (`pagination.py`) and calling it back only through `GroupHost`, then reads the
group through `page` offsets within
`LE(T)`. The docs do not say what `page` does, so the answers tell: a server counting from
0, from 1, or ignoring it. A member updated mid-traversal leaves the group and shifts the
later offsets, so the group is re-read until two passes return the same ids. If `page` is
ignored, nothing can reach the rest of the group: it is recorded as incomplete (the stream
reports it) and the walk moves on.
"""

from __future__ import annotations

import logging
import typing as t
from dataclasses import dataclass, field
from datetime import datetime

from tap_heymarket import timestamps
from tap_heymarket.walk_state import OFFSET, PROBE, Page, PageRequest, WalkMemory

#: The walker gives up on a tie group after this many passes that disagree.
MAX_VERIFY_PASSES = 5


@dataclass
class GroupTraversal:
    """State while reading one oversized tie group by `page` offsets."""

    at: datetime
    size_hint: int
    #: The `date` of the offset requests: offsets count within this window.
    window: str
    page_no: int = 0
    pass_no: int = 1
    pass_ids: set[int] = field(default_factory=set)
    previous_pass: set[int] | None = None
    probing: bool = False
    #: The ids at offset 0, which a probe of `page` compares with (empty: not read yet).
    first_page_ids: list[int] = field(default_factory=list)
    #: The `page` reading was questioned once for this group and probed again.
    reprobed: bool = False
    #: Passes started over (a new probe, a narrower window): not verification passes.
    restarts: int = 0
    #: The offset-0 ids that made `page` look ignored, to compare a re-read with.
    confirm_ids: list[int] | None = None


class GroupHost(t.Protocol):
    """What the reader needs of the walker that holds it (`UpdatedCursorPaginator`)."""

    #: The walker's cursor: the `updated` of the group being read.
    cursor: datetime | None
    #: What the walk has learned of the server (the reader learns `page_mode` into it).
    memory: WalkMemory
    logger: logging.Logger
    label: str
    #: The ids already emitted at the cursor.
    seen_at_cursor: set[int]

    def fmt(self, value: datetime) -> str:
        """A `date` for the API, at the walk's precision."""

    def le_date(self, at: datetime) -> str:
        """The `date` that asks for every record updated at or before `at`."""

    def ask(self, request: PageRequest) -> None:
        """Make `request` the walk's next request."""

    def leave_group(self) -> None:
        """The group at the cursor is done: continue strictly below it."""

    def accept_in_group(self, record: dict[str, t.Any], updated: datetime) -> bool:
        """Account for one member read; True if it is to be emitted (new to the walk)."""


class TieGroupReader:
    """The walker's tie-group traversal: held by `UpdatedCursorPaginator`, which asks it
    what to do with an answer stuck inside a group (`stuck`) and hands it every answer
    while it reads one (`consume`)."""

    def __init__(self, host: GroupHost) -> None:
        self.host = host
        #: The group being read by `page` offsets (None: no group).
        self.group: GroupTraversal | None = None
        #: The `LE(T)` answer that got stuck while the comparison was being probed.
        self.unprobed: Page | None = None

    def take_unprobed(self) -> Page | None:
        """The answer left stuck while the server's comparison was probed, once."""
        stuck, self.unprobed = self.unprobed, None
        return stuck

    def close(self) -> None:
        """Forget the group (the walker has left it)."""
        self.group = None

    def stuck(self, page: Page) -> None:
        """An `LE(T)` answer held only records already emitted at `T` (or newer)."""
        assert self.host.cursor is not None
        answered = len(page.records)
        if answered < self.host.memory.capacity:
            # The server has answered with more before, so this answer was not cut by a
            # limit: it holds the whole group at T and nothing older. Confirm the end
            # with `LT(T)` (a short page is never taken as the last one).
            self.host.leave_group()
            return
        if self.host.memory.page_mode == "ignored":
            self._give_up(answered)
            return
        if self.host.memory.server_cursor is None:
            # Offsets count within `LE(T)`, whose `date` is `T + step` while the comparison
            # is unknown: under `<=` a record written at `T + step` during the walk would
            # enter the window and shift every offset. Learn the comparison first (one
            # request, `date = T`), then ask `LE(T)` again.
            self.unprobed = page
            self.host.ask(
                PageRequest(date=self.host.fmt(self.host.cursor), limit=1, kind=PROBE, exact=True)
            )
            return
        # The group may be larger than the server's page: read it by `page` offsets.
        group = GroupTraversal(
            at=self.host.cursor, size_hint=answered, window=self.host.le_date(self.host.cursor)
        )
        group.pass_ids = {
            r["id"]
            for r, u in zip(page.records, page.updated, strict=True)
            if u == self.host.cursor
        }
        group.first_page_ids = [r["id"] for r in page.records]
        self.group = group
        self._request_group_page(group, 2 if self.host.memory.page_mode == "one" else 1)
        group.probing = self.host.memory.page_mode is None
        self.host.logger.info(
            "%s: at least %d %s share updated=%s, more than the API's page; reading the "
            "group by page offsets",
            self.host.label,
            len(group.pass_ids),
            self.host.label,
            timestamps.normalize(self.host.cursor),
        )

    def _reprobe(self, group: GroupTraversal, confirm: list[int] | None = None) -> None:
        """Probe `page` again, once per group, before concluding that it is ignored.

        Records updated between the probe's requests move in or out of the window and
        shift the offsets, which can make `page` look ignored, or 1-based look 0-based.
        The new probe starts from offset 0 (page 0 under every reading) and a fresh pass.
        """
        group.reprobed, group.probing, group.first_page_ids = True, True, []
        group.confirm_ids = confirm
        group.previous_pass, group.pass_ids = None, set()
        group.pass_no += 1
        group.restarts += 1
        self.host.memory.page_mode = None
        self._request_group_page(group, 0)

    def _request_group_page(self, group: GroupTraversal, page_no: int) -> None:
        group.page_no = page_no
        self.host.ask(self._offset_request(group, page_no))

    def _give_up(self, read: int) -> None:
        assert self.host.cursor is not None
        at = timestamps.normalize(self.host.cursor)
        self.host.memory.incomplete_groups.append((at, read))
        self.host.logger.info(
            "%s: the API answers at most %d per request and ignores `page`; the tie group "
            "at updated=%s cannot be read beyond its first %d",
            self.host.label,
            self.host.memory.capacity,
            at,
            read,
        )
        self.host.leave_group()

    def _offset_request(self, group: GroupTraversal, page_no: int | None) -> PageRequest:
        return PageRequest(
            date=self.host.le_date(group.at),
            limit=group.size_hint,
            page=page_no,
            kind=OFFSET,
            pass_no=group.pass_no,
        )

    def consume(self, page: Page) -> list[dict[str, t.Any]]:
        group = self.group
        assert group is not None
        ids = [r["id"] for r in page.records]
        window = self.host.le_date(group.at)
        if window != group.window:
            # This answer showed finer timestamps than seen before, which narrows `LE(T)`
            # (`T + step`): offsets in the new window are not those of the old one. Start
            # the group over from offset 0 (probing again if the reading of `page` was
            # still being probed).
            group.window = window
            group.previous_pass, group.pass_ids = None, set()
            group.pass_no += 1
            group.restarts += 1
            if group.probing:
                group.first_page_ids = []
            self._request_group_page(group, 1 if self.host.memory.page_mode == "one" else 0)
            return []
        if group.probing and group.first_page_ids:
            if page.records and ids == group.first_page_ids:
                # Same answer as offset 0: `page` is 1-based (page 1 is the first page)
                # or ignored. Page 2 tells them apart.
                if group.page_no == 1:
                    self._request_group_page(group, 2)
                    return []
                if not group.reprobed:
                    # Read offset 0 again before concluding: unchanged, these were the
                    # answers of a server that ignores `page`; changed, records moved
                    # under the probe and it starts over.
                    self._reprobe(group, confirm=group.first_page_ids)
                    return []
                self.host.memory.page_mode = "ignored"
                self.group = None
                self._give_up(len(group.pass_ids))
                return []
            self.host.memory.page_mode = "zero" if group.page_no == 1 else "one"
            group.probing = False
            self.host.logger.info(
                "%s: the API honours `page` (%s-based)", self.host.label, self.host.memory.page_mode
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
            if self.host.accept_in_group(record, updated):
                out.append(record)

        if group.probing and not group.first_page_ids:
            # A new probe: this answer was offset 0 (page 0 under every reading).
            if group.confirm_ids is not None and ids == group.confirm_ids:
                self.host.memory.page_mode = "ignored"
                self.group = None
                self._give_up(len(group.pass_ids))
                return out
            group.confirm_ids = None
            group.first_page_ids = ids or [-1]
            if not left_group:
                self._request_group_page(group, 1)
                return out
        elif not left_group and new_in_pass == 0:
            if not group.reprobed:
                # Offsets stopped moving through the group: `page` looks ignored, or a
                # 1-based server looked 0-based to a probe disturbed by an update.
                self._reprobe(group)
                return out
            self.host.memory.page_mode = "ignored"
            self.group = None
            self._give_up(len(group.pass_ids))
            return out
        if not left_group:
            self._request_group_page(group, group.page_no + 1)
            return out
        # One pass over the group is complete; verify it with another.
        if group.previous_pass is not None and group.previous_pass == group.pass_ids:
            self.host.leave_group()
            return out
        if group.pass_no - group.restarts >= MAX_VERIFY_PASSES:
            self.host.memory.unsettled_groups.append(timestamps.normalize(group.at))
            self.host.logger.warning(
                "%s: the tie group at updated=%s kept changing over %d passes; "
                "continuing with %d ids read. Records updated during the sync arrive "
                "with the next incremental run.",
                self.host.label,
                timestamps.normalize(group.at),
                group.pass_no - group.restarts,
                len(self.host.seen_at_cursor),
            )
            self.host.leave_group()
            return out
        group.previous_pass = group.pass_ids
        group.pass_ids = set()
        group.pass_no += 1
        self._request_group_page(group, 0 if self.host.memory.page_mode == "zero" else 1)
        return out
