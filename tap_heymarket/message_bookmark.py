"""The `messages` stream's entry in STATE: what a run reads from it, what a page writes.

The entry holds, besides the SDK's keys:

* `replication_key_value`: the newest `updated` read by the last completed walk;
* `created_bookmark`: the newest `date` read by the last completed walk (the floor of a
  walk by creation time, minus `messages_lookback_hours`);
* `strategy`: what the last probe learned and the walk it chose (re-probed every run);
* `message_walk`: the unfinished walk (strategy, floor, engine position), written after
  every page, so a killed run resumes where it stopped when the next probe chooses the same
  strategy.

`MessagesStream` (message_streams.py) and the walk's property tests
(tests/unit/test_message_walk.py) both go through these functions, so a bug in them fails
those tests rather than passing a model of their own.
"""

from __future__ import annotations

import typing as t
from dataclasses import dataclass

from tap_heymarket import timestamps
from tap_heymarket.state_keys import BOOKMARK_KEY, CREATED_KEY, MESSAGE_WALK_KEY, STRATEGY_KEY

if t.TYPE_CHECKING:
    from datetime import datetime

    from tap_heymarket.message_strategy import Learned
    from tap_heymarket.message_walk import MessageWalk


@dataclass(frozen=True)
class MessageBookmarks:
    """What a run starts from: the two bookmarks, the saved walk, the last probe."""

    updated: datetime | None
    date: datetime | None
    walk: t.Any
    learned: t.Any


def read_bookmarks(entry: t.Mapping[str, t.Any]) -> MessageBookmarks:
    """The entry as a run uses it (its shape was checked by `message_state_errors`)."""
    return MessageBookmarks(
        updated=timestamps.parse_optional(entry.get(BOOKMARK_KEY)),
        date=timestamps.parse_optional(entry.get(CREATED_KEY)),
        walk=entry.get(MESSAGE_WALK_KEY),
        learned=entry.get(STRATEGY_KEY),
    )


def record_strategy(entry: dict[str, t.Any], strategy: str, learned: Learned) -> None:
    """Keep what this run's probe learned, for the next run's probe to start from."""
    entry[STRATEGY_KEY] = {"name": strategy, **learned.to_state()}


def record_page(entry: dict[str, t.Any], walk: MessageWalk) -> bool:
    """Write the walk's progress into `entry` after one page's messages were emitted.

    Mid-walk, only its position; the bookmarks stay until the walk completes, so a kill
    never moves them past messages not yet read. At the end, each bookmark moves to the
    newest value the walk read, never back. Returns whether the walk completed."""
    if not walk.done:
        if (saved := walk.checkpoint()) is not None:
            entry[MESSAGE_WALK_KEY] = saved
        return False
    entry.pop(MESSAGE_WALK_KEY, None)
    for key, newest in ((BOOKMARK_KEY, walk.max_updated), (CREATED_KEY, walk.max_date)):
        old = timestamps.parse_optional(entry.get(key))
        if newest and (old is None or newest > old):
            entry[key] = timestamps.normalize(newest)
    return True
