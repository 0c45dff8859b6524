"""The conversations store: conversations per inbox, open and closed (served by
api/conversations.py, which reads the request body per the switches; see docs/sandbox.md,
"Endpoints").

Data: deterministic from the seed, spread over every inbox (the `empty_inbox` one too).
Newest first by `updated`, ties id descending. Tie groups on `updated` always: from 40
conversations one bulk close of min(60, N // 4) closed conversations of the first inbox
(larger than a small page), and groups of 2 to 8 elsewhere. Objects carry every field the
docs list (no `rev`: the docs list none) plus undocumented `labels` and `unread_count`;
`read` is relative to the user who asks (a hash of seed, id, version, user), and
`conversation_types` decides whether `inbox` and `assigned` are ids or objects.

`select` applies what the filters keep: `conversations_closed_filter` `honoured` or
`ignored` (every conversation either way); `filters.closed` left out,
`conversations_closed_default` decides: `all` (open and closed) or `open`.

Mutations (`POST /__sandbox/mutate {"conversations": k, "new_conversations": m}`, and
every `mutate_every`-th `POST /v1/conversations`): a changed conversation is reopened,
closed, or gets new activity; each gets `version + 1` and a fresh `updated` later than
every other, so it moves to the top of its (possibly other) open/closed list. New
conversations are open, in the inboxes in turn.
"""

from __future__ import annotations

import unicodedata
import zlib
from operator import itemgetter
from random import Random
from typing import TYPE_CHECKING, Any

from ..timefmt import SPAN_US, START_US, US, Clock
from .common import stream

if TYPE_CHECKING:
    from .team import Team

_ORDER = itemgetter("_updated", "id")

CHANNELS = ("sms", "sms", "sms", "mms", "email", "chat")
NAMES = (
    "María José Núñez",
    "Zoë O'Brien",
    "李小龍",
    "محمد علي",
    "דנה כהן",
    "Łukasz Żółć",
    "Pat",
    "",
    "👩‍💻 Dev Team",
    "Jean-Luc Picard",
    "Ngọc Ánh",
    "Customer 5551234",
)
LABELS = ("urgent", "billing", "vip", "follow-up", "spam?", "🎉")


def _email(name: str, user_id: int) -> str:
    folded = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    local = ".".join(w for w in "".join(c if c.isalnum() else " " for c in folded).split())
    return f"{(local or 'user').lower()}.{user_id}@example.com"


class ConversationStore:
    def __init__(
        self, n: int, seed: int, clock: Clock, team: Team, inboxes: list[dict[str, Any]]
    ) -> None:
        self.seed = seed
        self.clock = clock
        self.users = {m["id"]: (m["name"], _email(m["name"], m["id"])) for m in team.members}
        self.user_ids = team.member_ids
        self.inbox_names = {i["id"]: i["name"] for i in inboxes}
        self.inbox_members = {i["id"]: list(i["members"]) for i in inboxes}
        self.inbox_ids = [i["id"] for i in inboxes]
        #: Authorized `POST /v1/conversations` requests (for `mutate_every`).
        self.requests = 0
        self.items: list[dict[str, Any]] = []  # ascending (updated, id)
        self.mut_rng = Random(f"heymarket-conversations-mutate-{seed}")
        self._build(n)

    # ------------------------------------------------------------------ data
    def _build(self, n: int) -> None:
        if not self.inbox_ids:
            self.next_id = 500_000
            return
        r = Random(f"heymarket-conversations-{self.seed}")
        groups: list[tuple[int, int | None, bool | None]] = []  # (size, inbox, closed)
        if n >= 40:
            groups.append((min(60, n // 4), self.inbox_ids[0], True))  # a bulk close
        while sum(g[0] for g in groups) < n:
            size = min(r.choice((1, 1, 1, 1, 1, 1, 2, 2, 3, 5, 8)), n - sum(g[0] for g in groups))
            groups.append((size, None, None))
        cid = 500_000 + r.randrange(100_000)
        for size, inbox, closed in groups:
            inbox = r.choice(self.inbox_ids) if inbox is None else inbox
            closed = r.random() < 0.35 if closed is None else closed
            updated = self.clock.trunc(START_US + r.randrange(SPAN_US))
            for _ in range(size):
                cid += 1 + r.randrange(7)
                created = (
                    updated
                    if r.random() < 0.2
                    else self.clock.trunc(START_US + r.randrange(updated - START_US + 1))
                )
                self.items.append(self._make(r, cid, inbox, closed, created, updated))
        self.next_id = cid + 1
        self.items.sort(key=_ORDER)

    def _make(
        self, r: Random, cid: int, inbox: int, closed: bool, created: int, updated: int
    ) -> dict[str, Any]:
        members = self.inbox_members.get(inbox) or self.user_ids
        channel = r.choice(CHANNELS)
        name = r.choice(NAMES)
        if r.random() < 0.02:
            name = name[:2] + "\x00" + name[2:]  # as spreadsheet imports leave it
        if channel == "email":
            target = f"guest{cid % 10_000}@exämple.com"
        else:
            target = "1" + "".join(str(r.randrange(10)) for _ in range(10))
        inbound = updated - r.randrange(max(1, updated - created + 1))
        return {
            "id": cid,
            "inbox": inbox,
            "closed": closed,
            "assigned": r.choice(members) if r.random() < 0.7 else None,
            "participants": sorted(
                r.sample(self.user_ids, min(len(self.user_ids), 1 + r.randrange(3)))
            ),
            "creator": r.choice(members),
            "channel": channel,
            "target": target,
            "name": name,
            "type": r.choice(("individual", "individual", "individual", "group")),
            "_created": created,
            "_updated": updated,
            "_last_inbound": self.clock.trunc(inbound) if r.random() < 0.8 else None,
            "_snooze": (
                updated + (1 + r.randrange(14)) * 86_400 * US
                if not closed and r.random() < 0.1
                else None
            ),
            "replied": r.random() < 0.6,
            "blocked": r.random() < 0.03,
            "muted": r.random() < 0.05,
            "email_noti": r.random() < 0.5,
            "noreply": r.random() < 0.05,
            "op": "create" if created == updated else ("close" if closed else "update"),
            "local_id": "" if r.random() < 0.2 else f"conv-{r.getrandbits(48):012x}",
            "super": r.random() < 0.02,
            "support": r.random() < 0.05,
            "labels": sorted(r.sample(LABELS, r.randrange(3))),
            "version": 1,
        }

    def __len__(self) -> int:
        return len(self.items)

    def read_by(self, c: dict[str, Any], user: int) -> bool:
        """Whether `user` has read the conversation at its current version."""
        key = f"{self.seed}:{c['id']}:{c['version']}:{user}".encode()
        return zlib.crc32(key) % 10 < 6

    def obj(self, c: dict[str, Any], user: int, types: str) -> dict[str, Any]:
        if types == "mixed":
            types = "int" if c["id"] % 2 == 0 else "object"
        fmt = self.clock.fmt
        read = self.read_by(c, user)
        assigned: Any = c["assigned"]
        if types == "object":
            inbox: Any = {"id": c["inbox"], "name": self.inbox_names[c["inbox"]]}
            if assigned is not None:
                name, email = self.users.get(assigned, ("", ""))
                assigned = {"id": assigned, "name": name, "email": email}
            read_value: Any = read
        else:
            inbox, read_value = c["inbox"], int(read)
        return {
            "id": c["id"],
            "inbox": inbox,
            "assigned": assigned,
            "read": read_value,
            "channel": c["channel"],
            "status": "closed" if c["closed"] else "open",
            "target": c["target"],
            "name": c["name"],
            "type": c["type"],
            "members": [{"id": u, "name": self.users[u][0]} for u in c["participants"]],
            "created": fmt(c["_created"]),
            "updated": fmt(c["_updated"]),
            "creator": c["creator"],
            "last_inbound": None if c["_last_inbound"] is None else fmt(c["_last_inbound"]),
            "replied": c["replied"],
            "blocked": c["blocked"],
            "muted": c["muted"],
            "email_noti": c["email_noti"],
            "snooze_till": None if c["_snooze"] is None else fmt(c["_snooze"]),
            "noreply": c["noreply"],
            "op": c["op"],
            "local_id": c["local_id"],
            "super": c["super"],
            "support": c["support"],
            # undocumented extras
            "labels": list(c["labels"]),
            "unread_count": 0 if read else 1 + c["version"] % 3,
        }

    def select(
        self, inboxes: set[int], closed: bool | None, unread: bool | None, user: int, cfg: dict
    ) -> list[dict[str, Any]]:
        """The conversations the filters keep, ascending (updated, id)."""
        if cfg["conversations_closed_filter"] == "ignored":
            closed = None
        elif closed is None and cfg["conversations_closed_default"] == "open":
            closed = False
        return [
            c
            for c in self.items
            if c["inbox"] in inboxes
            and (closed is None or c["closed"] == closed)
            and (unread is None or self.read_by(c, user) != unread)
        ]

    # ------------------------------------------------------------------ mutation
    def mutate(self, k: int, new: int) -> tuple[list[int], list[int]]:
        """Reopen, close or touch k conversations; open `new` ones. Each gets a fresh
        `updated`, later than every other (so it moves to the top of its list)."""
        r = self.mut_rng
        picks = sorted(r.sample(self.items, min(k, len(self.items))), key=itemgetter("id"))
        fresh = self.clock.fresh(self.items[-1]["_updated"] if self.items else None)
        for c in picks:
            x = r.random()
            stamp = fresh()
            if c["closed"] and x < 0.6:
                c["closed"], c["op"] = False, "reopen"
            elif not c["closed"] and x < 0.5:
                c["closed"], c["op"], c["_snooze"] = True, "close", None
            else:
                c["op"], c["_last_inbound"] = "update", stamp
                c["replied"] = not c["replied"]
            c["_updated"] = stamp
            c["version"] += 1
        created = []
        if self.inbox_ids:
            for _ in range(new):
                stamp = fresh()
                inbox = self.inbox_ids[self.next_id % len(self.inbox_ids)]
                c = self._make(r, self.next_id, inbox, False, stamp, stamp)
                c["op"] = "create"
                self.items.append(c)
                created.append(self.next_id)
                self.next_id += 1 + r.randrange(3)
        self.items.sort(key=_ORDER)
        return [c["id"] for c in picks], created

    def flip(self, ids: list[int]) -> list[int]:
        """Close the open ones of `ids` and reopen the closed ones, each with a fresh
        `updated` (for tests that move given conversations at a given moment)."""
        wanted = set(ids)
        picks = [c for c in self.items if c["id"] in wanted]
        fresh = self.clock.fresh(self.items[-1]["_updated"] if self.items else None)
        for c in sorted(picks, key=itemgetter("id")):
            c["closed"] = not c["closed"]
            c["op"] = "close" if c["closed"] else "reopen"
            c["_updated"] = fresh()
            c["version"] += 1
        self.items.sort(key=_ORDER)
        return sorted(c["id"] for c in picks)

    # ------------------------------------------------------------------ truth
    def truth(self, cfg: dict[str, Any], inboxes: list[dict[str, Any]]) -> dict[str, Any]:
        """Every conversation of every inbox, open and closed, at its latest `updated`.

        `unreachable` lists those no user id can read: the conversations of inboxes
        without members (`unreachable_inboxes`) when `conversations_id0` is `reject`.
        """
        blocked = set()
        if cfg["conversations_id0"] == "reject":
            blocked = {i["id"] for i in inboxes if not i["members"]}
        per_inbox: dict[str, int] = {}
        for c in self.items:
            per_inbox[str(c["inbox"])] = per_inbox.get(str(c["inbox"]), 0) + 1
        return stream(
            {str(c["id"]): self.clock.fmt(c["_updated"]) for c in self.items},
            closed=sorted(c["id"] for c in self.items if c["closed"]),
            unreachable=sorted(c["id"] for c in self.items if c["inbox"] in blocked),
            unreachable_inboxes=sorted(blocked),
            inboxes=per_inbox,
            max_tie=_max_tie(self.items),
        )


def _max_tie(items: list[dict[str, Any]]) -> int:
    """The largest number of conversations of one inbox and state sharing one `updated`."""
    counts: dict[tuple[int, bool, int], int] = {}
    for c in items:
        key = (c["inbox"], c["closed"], c["_updated"])
        counts[key] = counts.get(key, 0) + 1
    return max(counts.values(), default=0)
