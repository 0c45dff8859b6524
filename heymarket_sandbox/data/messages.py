"""The messages store: team-wide messages (served by api/messages.py as POST
/v1/messages/all and its count, which read the body per the switches; see docs/sandbox.md,
"Endpoints" and "Switches").

Data: ids ascend; `date` (created) and `updated` are integer microseconds, shown with trailing
zeros trimmed (`…55.021462Z`, `…12.946Z`, `…12Z`); `updated >= date`. Broadcasts share one
`date`: from 500 messages one broadcast holds more than 200, and about 60 % of a broadcast's
status updates arrive in one batch, so `updated` has a tie group larger than 100 too. The
most recently updated message is an older one (a late status change), so the order of
`updated` and of `date` differ at the top. Ordering is by (key, id): newest first with ties
id descending, or the reverse with `ascending` (a `Query` says which).

Per message only the id, the two times, the status, the direction, the broadcast and a
version counter live in arrays; every other field is derived from (seed, id), but for the
phones, inboxes and replies of `threads` (threads.py) and, with conversations too, the
`conversation` of a thread linked to one (links.py). The queries are message_query.py's.
"""

from __future__ import annotations

import bisect
import json
import time
from array import array
from collections import Counter
from collections.abc import Callable
from random import Random
from typing import Any

from ..timefmt import SPAN_US, START_US, US, fmt
from . import message_query
from .common import stream
from .links import Links, echo
from .message_query import Query
from .threads import Threads, weave

#: Outbound statuses, then the inbound ones; a status change moves along its cycle.
STATUSES = ("queued", "sent", "delivered", "read", "failed", "undelivered", "received", "seen")
OUTBOUND_CYCLE = {0: 1, 1: 2, 2: 3, 3: 4, 4: 5, 5: 1}
INBOUND_CYCLE = {6: 7, 7: 6}
TEXTS = (
    "Your appointment is confirmed for Tuesday at 10:00. Reply C to confirm.",
    "Thanks! See you soon 🙂",
    "¿Tienen disponibilidad mañana?",
    "Line one\nLine two\n\nReply STOP to opt out.",
    'Use code "SPRING20" 🌸 at checkout.',
    "予約を変更できますか",
    "ok",
    "",
    "Tabs\tand\ttabs, and a 👨‍👩‍👧 family",
    "Votre commande est prête à être retirée.",
)
BROADCAST_TEXTS = (
    "Flash sale: 20% off everything today only! Reply STOP to opt out.",
    "Reminder: our office is closed on Monday for the holiday.",
    "New arrivals are in 👗 Come take a look!",
)
CHANNELS = ("sms", "sms", "sms", "mms", "email", "chat")
ERRORS = (
    {"code": 30007, "message": "Carrier violation"},
    {"code": 30003, "message": "Unreachable destination handset"},
)


def fmt_trimmed(us: int) -> str:
    """Integer microseconds -> RFC 3339 UTC with the fraction's trailing zeros trimmed."""
    secs, frac = divmod(us, US)
    text = fmt(secs * US, False)[:-1]
    if frac:
        text += "." + f"{frac:06d}".rstrip("0")
    return text + "Z"


def _precision(us: int, x: float) -> int:
    """Most times keep their microseconds; some are whole milliseconds or whole seconds."""
    if x < 0.15:
        return us - us % 1000
    if x < 0.25:
        return us - us % US
    return us


class MessageStore:
    def __init__(
        self,
        n: int,
        seed: int,
        *,
        team_id: int,
        members: list[dict[str, Any]],
        inboxes: list[dict[str, Any]],
        threads: bool = False,
    ) -> None:
        self.seed = seed
        #: With the `threads` switch: phones, inboxes and replies (threads.py).
        self.threads: Threads | None = None
        self._weave = threads
        self.team_id = team_id
        self.member_ids = [m["id"] for m in members]
        self.member_names = {m["id"]: m["name"] for m in members}
        self.inboxes = [{"id": i["id"], "phone": i["phone"]} for i in inboxes]
        #: Authorized `POST /v1/messages/all` requests (for `mutate_every`).
        self.requests = 0
        #: With `threads` and conversations: the conversation each thread belongs to
        #: (links.py; set by the World with `relink`).
        self.links = Links()
        #: Encoded messages by index, with the key they were encoded at (`_cache_key`).
        self._json: dict[int, tuple[tuple[int, int], bytes]] = {}
        self._build(n)

    def _build(self, n: int) -> None:
        r = Random(f"heymarket-messages-{self.seed}")
        rnd = r.random
        ids, date, upd = array("q"), array("q"), array("q")
        status, inbound = bytearray(n), bytearray(n)
        bcast = array("q", bytes(8 * n))
        mid = 80_000_000 + r.randrange(1_000_000)
        for i in range(n):
            mid += 1 + int(rnd() * 4)
            ids.append(mid)
            d = _precision(START_US + int(rnd() * SPAN_US), rnd())
            date.append(d)
            inbound[i] = rnd() < 0.35
            x = rnd()
            if x < 0.25:
                u = d  # never changed since it was sent or received
            elif x < 0.85:
                u = d + 200_000 + int(rnd() * 30 * US)  # delivery status, seconds later
            else:
                u = d + int(rnd() * 10 * 86_400 * US)  # a late change, up to 10 days later
            upd.append(max(d, _precision(u, rnd())))
            if inbound[i]:
                status[i] = 6 if u == d else 7
            else:
                status[i] = 1 if u == d else r.choice((2, 2, 2, 3, 4, 5))
        # Broadcasts: hundreds of messages sent at one instant.
        sizes: list[int] = []
        if n >= 500:
            sizes.append(201 + r.randrange(60))
        elif n >= 40:
            sizes.append(n // 4)
        sizes += [5 + r.randrange(26) for _ in range(min(6, n // 200))]
        room, kept = int(n * 0.6), []
        for size in sizes:  # at most 60 % of the messages are in broadcasts
            if size <= room:
                kept.append(size)
                room -= size
        sizes = kept
        picked = r.sample(range(n), sum(sizes)) if sizes else []
        self.broadcasts: list[tuple[int, int]] = []  # (broadcast id, date)
        pos = 0
        for k, size in enumerate(sizes):
            t = START_US + r.randrange(SPAN_US)
            t -= t % 1000
            bid = 6_000_000 + 1000 * k + r.randrange(1000)
            batch = t + 2_500_000 + r.randrange(1000)  # the carrier's status callback batch
            self.broadcasts.append((bid, t))
            for i in picked[pos : pos + size]:
                date[i], inbound[i], bcast[i] = t, 0, bid
                if rnd() < 0.6:
                    upd[i] = batch
                else:
                    upd[i] = t + 300_000 + int(rnd() * 60 * US)
                status[i] = r.choice((2, 2, 2, 3, 4, 5))
            pos += size
        if self._weave:
            self.threads = weave(
                Random(f"heymarket-threads-{self.seed}"),
                date=date,
                upd=upd,
                inbound=inbound,
                bcast=bcast,
                status=status,
                broadcasts=self.broadcasts,
                inboxes=len(self.inboxes),
                keep=n // 2,
                latest=START_US + SPAN_US,
            )
        if n >= 2:
            # The most recently updated message is an older one: a late status change.
            late = n // 2
            upd[late] = max(upd) + US
            status[late] = 3 if not inbound[late] else 7
        self.ids, self.date, self.upd = ids, date, upd
        self.status, self.inbound, self.bcast = status, inbound, bcast
        self.ver = array("l", [1]) * n
        # Indices ascending by (date, id) and by (updated, id): ids ascend with the index.
        self.by_date = array("q", sorted(range(n), key=date.__getitem__))
        self.by_upd = array("q", sorted(range(n), key=upd.__getitem__))
        self.mut_rng = Random(f"heymarket-messages-mutate-{self.seed}")

    def __len__(self) -> int:
        return len(self.ids)

    # ------------------------------------------------------------------ objects
    def message(self, idx: int) -> dict[str, Any]:
        mid = self.ids[idx]
        rr = Random(self.seed * 1_000_003 + mid)
        inbound = bool(self.inbound[idx])
        bid = self.bcast[idx] or None
        inbox = rr.choice(self.inboxes) if self.inboxes else {"id": None, "phone": None}
        target = "1" + "".join(str(rr.randrange(10)) for _ in range(10))
        channel = "sms" if bid else rr.choice(CHANNELS)
        user = None if inbound else (rr.choice(self.member_ids) if self.member_ids else None)
        if bid:
            br = Random(bid)
            text = br.choice(BROADCAST_TEXTS)
            user = self.member_ids[bid % len(self.member_ids)] if self.member_ids else None
        else:
            text = rr.choice(TEXTS)
        if self.threads is not None:
            target = self.threads.phone(idx)
            if self.inboxes:
                inbox = self.inboxes[self.threads.inboxes[idx]]
            text = self.threads.texts.get(idx, text)
        state = self.status[idx]
        failed = state in (4, 5)
        # A string, as the docs type it: the URL, or "" (shapes=media_list: a list of URLs).
        media = f"https://cdn.example.com/m/{mid}.jpg" if channel == "mms" else ""
        out: dict[str, Any] = {
            "id": mid,
            "date": fmt_trimmed(self.date[idx]),
            "updated": fmt_trimmed(self.upd[idx]),
            "text": text,
            "type": "inbound" if inbound else "outbound",
            "status": STATUSES[state],
            "target": target,
            "phone": inbox["phone"],
            "user": user,
            "author": None if inbound else self.member_names.get(user or 0),
            "broadcast_id": bid,
            "local_id": "" if inbound else f"msg-{rr.getrandbits(48):012x}",
            "media": media,
            "link_url": "https://example.com/offer" if rr.random() < 0.1 else None,
            "flagged": rr.random() < 0.05,
            "super": False,
            "support": rr.random() < 0.02,
            "custom": {"data": [rr.randrange(1000) for _ in range(rr.randrange(3))], "type": ""},
            "conversation": {
                "id": 3_000_000 + (int(target) * 31 + (inbox["id"] or 0)) % 1_000_000,
                "inbox": inbox["id"],
                "target": target,
                "channel": channel,
                "status": rr.choice(("open", "open", "closed")),
            },
            # third-party samples
            "channel": channel,
            "hidden": rr.random() < 0.03,
            "raw_error": rr.choice(ERRORS) if failed else None,
            "target_errors": [{"target": target, "error": "undeliverable"}] if failed else [],
            "targets": [target] if bid else None,
        }
        linked = self._linked(idx)
        if linked is not None:  # after every draw above, so that the other fields stay
            out["conversation"] = echo(linked)
        if rr.random() < 0.2:
            # Documented nowhere: what the tap must keep in `extra_fields`.
            out["segments"] = 1 + rr.randrange(3)
            out["carrier"] = rr.choice(("T-Mobile", "Verizon", "AT&T"))
        return out

    def _linked(self, idx: int) -> dict[str, Any] | None:
        """The conversation record message `idx`'s thread is linked to, if any."""
        return None if self.threads is None else self.links.conversation(self.threads, idx)

    def relink(self, links: Links) -> None:
        """Take the thread links (links.py) the World made; forget every encoded message,
        whose `conversation` may have changed with them."""
        self.links = links
        self._json.clear()

    def _cache_key(self, idx: int) -> tuple[int, int]:
        """What an encoded message depends on besides (seed, id): its `updated` and status,
        and the version of its linked conversation (a closed or reopened one changes the
        message's `conversation.status` without touching the message)."""
        linked = self._linked(idx)
        return self.upd[idx] * 8 + self.status[idx], 0 if linked is None else linked["version"]

    def message_json(self, idx: int) -> bytes:
        key = self._cache_key(idx)
        hit = self._json.get(idx)
        if hit is not None and hit[0] == key:
            return hit[1]
        raw = json.dumps(self.message(idx), ensure_ascii=False, separators=(",", ":")).encode()
        if len(self._json) > 100_000:
            self._json.clear()
        self._json[idx] = (key, raw)
        return raw

    def page_json(self, idxs: list[int]) -> bytes:
        return b"[" + b",".join([self.message_json(i) for i in idxs]) + b"]"

    # ------------------------------------------------------------------ queries
    def select(self, q: Query) -> list[int]:
        return message_query.select(self.by_date, self.by_upd, self.date, self.upd, q)

    def count(self, q: Query) -> int:
        return message_query.count(self.by_date, self.by_upd, self.date, self.upd, q)

    # ------------------------------------------------------------------ mutation
    def _index(self, message_id: int) -> int | None:
        i = bisect.bisect_left(self.ids, message_id)
        return i if i < len(self.ids) and self.ids[i] == message_id else None

    def mutate(
        self, changes: int, new: int, ids: list[int] | None = None
    ) -> tuple[list[int], list[int]]:
        """Change the status of `changes` random messages (and of `ids`), create `new` ones.

        Every change and every new message gets a fresh `updated`, later than every other
        (the wall clock in microseconds, or the current maximum + 1 µs); new messages get
        that as their `date` too.
        """
        r = self.mut_rng
        n = len(self.ids)
        picks = set(r.sample(range(n), min(changes, n)))
        for message_id in ids or []:
            idx = self._index(message_id)
            if idx is not None:
                picks.add(idx)
        last = self.upd[self.by_upd[-1]] if n else START_US
        stamps = self._stamps(last)
        changed = []
        for idx in sorted(picks):
            u = self.upd
            pos = bisect.bisect_left(self.by_upd, (u[idx], idx), key=lambda j: (u[j], j))
            if pos >= len(self.by_upd) or self.by_upd[pos] != idx:
                raise RuntimeError("messages: updated index corrupt")
            del self.by_upd[pos]
            u[idx] = stamps()
            self.ver[idx] += 1
            cycle = INBOUND_CYCLE if self.inbound[idx] else OUTBOUND_CYCLE
            self.status[idx] = cycle.get(self.status[idx], self.status[idx])
            self.by_upd.append(idx)
            changed.append(self.ids[idx])
        created = []
        for _ in range(new):
            stamp = stamps()
            idx = len(self.ids)
            mid = (self.ids[-1] if idx else 80_000_000) + 1 + r.randrange(5)
            self.ids.append(mid)
            self.date.append(stamp)
            self.upd.append(stamp)
            inbound = r.random() < 0.35
            self.inbound.append(inbound)
            self.status.append(6 if inbound else 1)
            self.bcast.append(0)
            self.ver.append(1)
            if self.threads is not None and idx:
                # A new message continues the thread (phone and inbox) of an earlier one.
                j = r.randrange(idx)
                self.threads.phones.append(self.threads.phones[j])
                self.threads.inboxes.append(self.threads.inboxes[j])
            self.by_date.append(idx)
            self.by_upd.append(idx)
            created.append(mid)
        return changed, created

    @staticmethod
    def _stamps(last: int) -> Callable[[], int]:
        previous = last

        def next_stamp() -> int:
            nonlocal previous
            previous = max(time.time_ns() // 1000, previous + 1)
            return previous

        return next_stamp

    # ------------------------------------------------------------------ truth
    def truth(self, with_updated: bool) -> dict[str, Any]:
        ids, upd, date = self.ids, self.upd, self.date
        sizes = Counter(self.bcast)
        extra: dict[str, Any] = {
            "broadcasts": [
                {"broadcast_id": bid, "date": fmt_trimmed(t), "size": sizes[bid]}
                for bid, t in self.broadcasts
            ],
            "max_tie_date": max(Counter(date).values(), default=0),
            "max_tie_updated": max(Counter(upd).values(), default=0),
        }
        if with_updated:
            extra["updated"] = {str(ids[i]): fmt_trimmed(upd[i]) for i in range(len(ids))}
            extra["date"] = {str(ids[i]): fmt_trimmed(date[i]) for i in range(len(ids))}
        return stream({str(ids[i]): fmt_trimmed(upd[i]) for i in range(len(ids))}, **extra)
