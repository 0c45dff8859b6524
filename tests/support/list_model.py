"""One in-process model of what a Heymarket list endpoint may do with a request.

The docs leave open how a list answers (docs/api.md, "Contacts" and "Messages"): whether
the `date` cursor compares strictly or inclusively, whether it is an upper bound
("before") or a lower one, how finely the server reads it, whether `limit` is clamped,
what `page` does, and how a tie group is ordered. The sandbox serves each of those as a
switch (docs/sandbox.md); `ListSemantics` is the same rules in a few lines, over rows a
Hypothesis strategy draws, so that the walker's property tests
(tests/unit/test_walker_properties.py) and the messages walk's (tests/unit/test_message_walk.py)
answer from one model. tests/sandbox/test_list_model.py checks it against the sandbox.
"""

from __future__ import annotations

import typing as t
from collections.abc import Iterable
from dataclasses import dataclass

PageMode = t.Literal["ignore", "zero", "one"]


@dataclass(frozen=True)
class ListSemantics:
    """One plausible reading of a list endpoint's body, the sandbox's switches in small."""

    #: The cursor compares with `<=` (`>=` for a lower bound) instead of `<` (`>`).
    inclusive: bool
    #: The cursor is an upper bound ("updated before") or, when False, a lower one.
    before: bool = True
    #: The server reads `date` truncated to this many µs (1: exactly).
    date_unit: int = 1
    #: The most records one answer holds, whatever `limit` asks (None: no clamp).
    max_limit: int | None = None
    #: `page` ignored, or an offset counted from 0 or from 1.
    page_mode: PageMode = "ignore"
    #: Order inside a tie group: by id (None), or a fixed permutation of the ids.
    salt: int | None = None

    def passes(self, value: int, cut: int) -> bool:
        """Whether a record whose cursor key is `value` (µs) answers `date` = `cut`."""
        if self.before:
            return value <= cut if self.inclusive else value < cut
        return value >= cut if self.inclusive else value > cut

    def offset(self, page: t.Any, limit: int) -> int:
        """Where the answer starts for `page`, as the server reads it."""
        if self.page_mode == "zero" and page:
            return int(page) * limit
        if self.page_mode == "one" and page and page > 1:
            return (int(page) - 1) * limit
        return 0

    def tie_order(self, record_id: int) -> int:
        """The position key of a record inside its tie group."""
        if self.salt is None:
            return record_id
        return (record_id * 2_654_435_761 + self.salt) % 1_000_003

    def answer(
        self,
        rows: Iterable[tuple[int, int, int]],
        *,
        cut: int | None,
        limit: int,
        page: t.Any = None,
        ascending: bool = False,
    ) -> list[int]:
        """The ids one request is answered with, in order.

        `rows` are `(id, sort key, cursor key)` in µs; `cut` is the `date` sent (µs, None
        when the body has none); the list is newest first unless `ascending` is honoured.
        """
        assert isinstance(limit, int) and limit > 0, limit
        if self.max_limit:
            limit = min(limit, self.max_limit)
        chosen = list(rows)
        if cut is not None:
            cut -= cut % self.date_unit
            chosen = [row for row in chosen if self.passes(row[2], cut)]
        chosen.sort(key=lambda row: (row[1], self.tie_order(row[0])), reverse=not ascending)
        start = self.offset(page, limit)
        return [row[0] for row in chosen[start : start + limit]]
