"""Threads linked to conversations (the `threads` switch with `conversations` too), so that
a conversation's resolution can be measured: a thread's messages carry the id, inbox,
target, channel and status of a conversation `POST /v1/conversations` serves.

Without links a thread's `conversation.id` is made up from its phone and inbox and names no
conversation the conversations endpoint knows, so nothing joins a thread's first inbound
message to a conversation's `status` and `updated`. With them, every conversation of the
three inboxes messages point at takes one thread of its inbox that holds an inbound message
(one thread per conversation, one conversation per thread, while both last), picked so that
all three cases a resolution time must tell apart are there:

* closed, `updated` at or after the thread's first inbound message (resolved), about two
  in three closed ones;
* closed, `updated` before it (closed, not resolved: the API does not say that a message
  moves a conversation's `updated`), the others, where the inbox has such a thread;
* open.

Only the messages change: the conversations store, its answers and its truth stay as they
are. Deterministic from the seed; the threads that no conversation takes keep their made-up
ids. A link holds the conversation's live record, so a conversation mutation (closed,
reopened, touched) shows in its thread's messages at once; `refresh` re-binds the links to
the records by id after one, and `link` is run again whenever either store is rebuilt.
"""

from __future__ import annotations

from array import array
from dataclasses import dataclass, field
from random import Random
from typing import Any

from .threads import Threads

#: The share of the linked closed conversations given a thread whose first inbound message
#: is at or before the conversation's `updated` (resolved); the rest get one after it.
RESOLVED_SHARE = 2 / 3


@dataclass
class Links:
    """thread (phone index, inbox index) -> the live record of its conversation."""

    by_thread: dict[tuple[int, int], dict[str, Any]] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.by_thread)

    def conversation(self, threads: Threads, idx: int) -> dict[str, Any] | None:
        """The record of the conversation message `idx` belongs to, or None."""
        if not self.by_thread:
            return None
        return self.by_thread.get((threads.phones[idx], threads.inboxes[idx]))

    def refresh(self, items: list[dict[str, Any]]) -> None:
        """Re-bind every link to the current record of its conversation (by id)."""
        current = {c["id"]: c for c in items}
        self.by_thread = {
            thread: current[c["id"]] for thread, c in self.by_thread.items() if c["id"] in current
        }


def echo(c: dict[str, Any]) -> dict[str, Any]:
    """A message's `conversation` object for conversation record `c`, as the conversations
    endpoint serves that conversation (`inbox` as an id, as messages always send it)."""
    return {
        "id": c["id"],
        "inbox": c["inbox"],
        "target": c["target"],
        "channel": c["channel"],
        "status": "closed" if c["closed"] else "open",
    }


def first_inbound(threads: Threads, date: array, inbound: bytearray) -> dict[tuple[int, int], int]:
    """thread -> the `date` of its first inbound message, for the threads that have one."""
    first: dict[tuple[int, int], int] = {}
    for i in range(len(threads.phones)):
        if inbound[i]:
            thread = (threads.phones[i], threads.inboxes[i])
            if thread not in first or date[i] < first[thread]:
                first[thread] = date[i]
    return first


def link(
    threads: Threads | None,
    *,
    date: array,
    inbound: bytearray,
    inbox_ids: list[int],
    items: list[dict[str, Any]],
    seed: int,
) -> Links:
    """Give each conversation of the messages' inboxes (`inbox_ids`, by the position
    threads use) a thread of its inbox holding an inbound message, while there are any."""
    if threads is None or not items:
        return Links()
    first = first_inbound(threads, date, inbound)
    r = Random(f"heymarket-links-{seed}")
    out: dict[tuple[int, int], dict[str, Any]] = {}
    for position, inbox in enumerate(inbox_ids):
        free = sorted(thread for thread in first if thread[1] == position)
        r.shuffle(free)
        for c in sorted((c for c in items if c["inbox"] == inbox), key=lambda c: c["id"]):
            if not free:
                break
            pick = 0
            if c["closed"]:
                resolved = r.random() < RESOLVED_SHARE
                fits = (j for j, t in enumerate(free) if (first[t] <= c["_updated"]) == resolved)
                pick = next(fits, 0)  # none of that kind left in the inbox: any thread
            out[free.pop(pick)] = c
    return Links(out)
