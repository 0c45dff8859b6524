"""A walk's bookmark in STATE: where a run starts, where it resumes, what a page writes.

One state entry per walk (the stream's own for contacts, tags and templates, one per inbox
and status for conversations; the whole layout is in state_keys.py) holds:

* `replication_key_value`: the newest `updated` emitted by the last completed walk;
* `revs_at_bookmark`: `[[id, rev], ...]` of the records emitted at exactly that time, so
  the next run skips them while their rev is unchanged;
* `walk`: the unfinished walk's position (`UpdatedCursorPaginator.checkpoint`), present
  only between a page and the walk's end.

These three rules are the streams' whole use of that entry, and the walker's property
tests (tests/unit/test_walker_properties.py) drive walks through them, so a bug here fails
there rather than passing a model of its own.
"""

from __future__ import annotations

import typing as t

from tap_heymarket import timestamps
from tap_heymarket.pagination import UpdatedCursorPaginator
from tap_heymarket.state_keys import BOOKMARK_KEY, REVS_KEY, WALK_KEY
from tap_heymarket.walk_state import revs_from_state, revs_to_state

if t.TYPE_CHECKING:
    import logging
    from datetime import datetime


def walk_floor(entry: t.Mapping[str, t.Any], start_date: t.Any) -> datetime | None:
    """Oldest `updated` to extract: the bookmark or `start_date`, whichever is later
    (`timestamps.floor_of`, the one floor rule, also the messages walk's)."""
    bookmark = entry.get(BOOKMARK_KEY)
    return timestamps.floor_of(
        timestamps.parse(bookmark) if bookmark else None,
        timestamps.parse(str(start_date)) if start_date else None,
    )


def resume_walker(
    entry: t.Mapping[str, t.Any],
    *,
    floor: datetime | None,
    page_size: int,
    logger: logging.Logger,
    label: str,
) -> UpdatedCursorPaginator:
    """A walker for one entry down to `floor`: from the top, or from the cursor of an
    interrupted walk that had the same floor."""
    bookmark = entry.get(BOOKMARK_KEY)
    # The records the last run emitted at its bookmark apply only when the walk goes
    # down to that bookmark (not to a later `start_date`).
    known = None
    if floor is not None and bookmark and timestamps.parse(bookmark) == floor:
        known = revs_from_state(entry.get(REVS_KEY))
    walker = UpdatedCursorPaginator.resume(
        entry.get(WALK_KEY),
        page_size=page_size,
        floor=floor,
        known_at_floor=known,
        logger=logger,
        label=label,
    )
    if walker.resumed:
        logger.info(
            "%s: resuming an interrupted walk below updated=%s", label, entry[WALK_KEY]["cursor"]
        )
    return walker


def record_page(entry: dict[str, t.Any], walker: UpdatedCursorPaginator) -> bool:
    """Write the walk's progress into `entry` after one page's records were emitted.

    Mid-walk, only its position: the previous bookmark and its revs stay until the walk
    completes, so a kill never moves the bookmark past records not yet read. At the end,
    the one promotion rule: the bookmark moves to the newest `updated` the walk emitted,
    never back, and the revs at it are replaced together with it. Returns whether the
    walk completed (and `entry` holds no position any more)."""
    if not walker.finished_walk:
        if (saved := walker.checkpoint()) is not None:
            entry[WALK_KEY] = saved
        return False
    entry.pop(WALK_KEY, None)
    bookmark = entry.get(BOOKMARK_KEY)
    previous = timestamps.parse(bookmark) if bookmark else None
    newest = walker.newest
    if newest and (previous is None or newest >= previous):
        if previous is None or newest > previous:
            entry[BOOKMARK_KEY] = timestamps.normalize(newest)
        entry[REVS_KEY] = revs_to_state(walker.revs_at_newest())
    return True
