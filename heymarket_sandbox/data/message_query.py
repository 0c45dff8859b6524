"""What one `POST /v1/messages/all` asks of the messages store (messages.py), and how it is
answered from the store's sorted indices: a `Query` (api/messages.py reads a body into one,
per the switches) and `select` / `count` over the indices ascending by (`date`, id) and by
(`updated`, id). Kept apart from the store so that its data and its queries each stay
small enough to read."""

from __future__ import annotations

import bisect
from array import array
from collections.abc import Callable, Iterator
from dataclasses import dataclass


@dataclass(frozen=True)
class Query:
    """What one messages request asks for, already read per the switches (api/messages.py
    parses the body into one)."""

    limit: int
    offset: int
    #: the cursor in ns, or None (no cursor)
    cut_ns: int | None
    #: sorted by `updated` (else by the created `date`)
    sort_updated: bool
    #: the cursor filters on `updated` (else on `date`)
    filter_updated: bool
    ascending: bool
    #: the cursor is an upper bound (else a lower one)
    before: bool
    inclusive: bool

    def passes(self, key: array) -> Callable[[int], bool]:
        cut = self.cut_ns
        if cut is None:
            return lambda idx: True
        if self.before:
            if self.inclusive:
                return lambda idx: key[idx] * 1000 <= cut
            return lambda idx: key[idx] * 1000 < cut
        if self.inclusive:
            return lambda idx: key[idx] * 1000 >= cut
        return lambda idx: key[idx] * 1000 > cut


def _range(order: array, key: array, cut: Query) -> tuple[int, int]:
    """[lo, hi) of `order` (ascending by `key`) that passes the cursor."""
    n = len(order)
    if cut.cut_ns is None:
        return 0, n
    floor_us, ceil_us = cut.cut_ns // 1000, -(-cut.cut_ns // 1000)
    get = key.__getitem__
    if cut.before:
        if cut.inclusive:  # key*1000 <= cut
            return 0, bisect.bisect_right(order, floor_us, key=get)
        return 0, bisect.bisect_left(order, ceil_us, key=get)  # key*1000 < cut
    if cut.inclusive:  # key*1000 >= cut
        return bisect.bisect_left(order, ceil_us, key=get), n
    return bisect.bisect_right(order, floor_us, key=get), n  # key*1000 > cut


def select(by_date: array, by_upd: array, date: array, upd: array, q: Query) -> list[int]:
    """The message indices one request answers, in the order asked for."""
    order = by_upd if q.sort_updated else by_date
    if q.filter_updated == q.sort_updated:
        lo, hi = _range(order, upd if q.sort_updated else date, q)
        if q.ascending:
            start = lo + q.offset
            return list(order[start : min(hi, start + q.limit)]) if start < hi else []
        start = hi - 1 - q.offset
        stop = max(start - q.limit, lo - 1)
        return [order[j] for j in range(start, stop, -1)] if start >= lo else []
    # Sorted by `updated`, filtered on `date`: scan in order.
    passes = q.passes(date)
    everything = range(len(order))
    positions: Iterator[int] = iter(everything) if q.ascending else reversed(everything)
    out: list[int] = []
    skip = q.offset
    for j in positions:
        idx = order[j]
        if not passes(idx):
            continue
        if skip:
            skip -= 1
            continue
        out.append(idx)
        if len(out) == q.limit:
            break
    return out


def count(by_date: array, by_upd: array, date: array, upd: array, q: Query) -> int:
    """How many messages pass the request's cursor (its `limit` and `page` aside)."""
    if q.filter_updated:
        lo, hi = _range(by_upd, upd, q)
    else:
        lo, hi = _range(by_date, date, q)
    return hi - lo
