"""What the stores share: newest-first slices of ascending sequences (the `date` cursor)
and the shape of one stream's entry in the truth (docs/sandbox.md, "Control endpoints")."""

from __future__ import annotations

import bisect
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

T = TypeVar("T")


def boundary(
    seq: Sequence[Any],
    date_ns: int | None,
    inclusive: bool,
    key: Callable[[Any], int] | None = None,
) -> int:
    """How many items of `seq` (ascending by updated µs) pass the `date` filter."""
    if date_ns is None:
        return len(seq)
    if inclusive:
        return bisect.bisect_right(seq, date_ns // 1000, key=key)
    return bisect.bisect_left(seq, -(-date_ns // 1000), key=key)


def newest_first(seq: Sequence[T], hi: int, limit: int, offset: int) -> list[T]:
    """`limit` items of seq[:hi] from the newest, skipping `offset`."""
    start = hi - 1 - offset
    stop = max(start - limit, -1)
    return [seq[j] for j in range(start, stop, -1)] if start >= 0 else []


def stream(ids: dict[str, Any], **extra: Any) -> dict[str, Any]:
    """One entry of truth["streams"]: {"count", "ids": {"<id>": rev or null}, ...extra}."""
    return {"count": len(ids), "ids": ids, **extra}
