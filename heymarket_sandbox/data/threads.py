"""Threads among the sandbox's messages (the `threads` switch), for the dbt package's marts.

Without it each message goes to a phone of its own, so no conversation holds more than one
message. With it the messages go to a pool of contacts' phones (`1555` and seven digits),
each phone's conversation living in one inbox, so conversations hold inbound and outbound
messages (first responses, reply counts); each broadcast goes from one inbox to distinct
phones; and about a third of each broadcast's recipients answer it, three quarters of them
within 72 hours of the send and the rest later, in words that include the opt-out keywords
in several spellings (`STOP`, ` stop `, `Unsubscribe`), opt-in keywords, and texts that merely
contain a keyword (`stop sending these please`, not an opt-out).

Only which phone, which inbox and (for replies) which text and time a message has change;
the ids, the broadcasts and the status cycle are the store's own (messages.py).
"""

from __future__ import annotations

from array import array
from collections import defaultdict
from dataclasses import dataclass, field
from random import Random

from ..timefmt import US

OPT_OUT_REPLIES = ("STOP", " stop ", "Stop", "UNSUBSCRIBE", "stopall", "Cancel", "quit", "END ")
OPT_IN_REPLIES = ("START", "yes", " Unstop")
OTHER_REPLIES = (
    "Thanks!",
    "What time do you close today?",
    "stop sending these please",
    "Is the sale still on?",
    "ok",
)
HOUR = 3600 * US


@dataclass
class Threads:
    """Per message: the index of its phone in the pool and of its inbox; replies' texts."""

    phones: array
    inboxes: array
    texts: dict[int, str] = field(default_factory=dict)

    def phone(self, idx: int) -> str:
        return f"1555{self.phones[idx]:07d}"


def weave(
    rng: Random,
    *,
    date: array,
    upd: array,
    inbound: bytearray,
    bcast: array,
    status: bytearray,
    broadcasts: list[tuple[int, int]],
    inboxes: int,
    keep: int,
    latest: int,
) -> Threads:
    """Give every message a phone and an inbox, and turn free inbound messages into replies
    to broadcasts (their `date` and `updated` moved after the send, never past `latest`).
    `keep` is a message whose times must not change (the store's late status change)."""
    n = len(date)
    inboxes = max(1, inboxes)
    pool = max(300, n // 6)
    phones = array("l", (rng.randrange(pool) for _ in range(n)))
    inbox = array("l", (p % inboxes for p in phones))
    members: dict[int, list[int]] = defaultdict(list)
    for i in range(n):
        if bcast[i]:
            members[bcast[i]].append(i)
    for k, (bid, _t) in enumerate(broadcasts):
        start = rng.randrange(pool)
        for j, i in enumerate(members[bid]):
            phones[i], inbox[i] = (start + j) % pool, k % inboxes
    free = [i for i in range(n) if inbound[i] and not bcast[i] and i != keep]
    rng.shuffle(free)
    texts: dict[int, str] = {}
    for bid, sent in broadcasts:
        for i in members[bid]:
            if not free or rng.random() >= 0.33:
                continue
            reply = free.pop()
            phones[reply], inbox[reply] = phones[i], inbox[i]
            if rng.random() < 0.75:
                delay = rng.randrange(5 * 60 * US, 60 * HOUR)
            else:
                delay = rng.randrange(80 * HOUR, 200 * HOUR)
            date[reply] = min(sent + delay, latest)
            upd[reply] = date[reply]
            status[reply] = 6
            x = rng.random()
            replies = OPT_OUT_REPLIES if x < 0.3 else OPT_IN_REPLIES if x < 0.4 else OTHER_REPLIES
            texts[reply] = rng.choice(replies)
    return Threads(phones, inbox, texts)
