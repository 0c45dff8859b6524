"""The contacts store: the big, tie-heavy, mutable data set (served by api/contacts.py).

Per contact only id, created, updated (integer microseconds, already truncated to the
precision), rev and op live in arrays; every other field is derived lazily from
(seed, id) by contact_records.derive.  `order` holds contact indices ascending by
(updated, id): reversed it is newest first with id-descending ties.
"""

from __future__ import annotations

import bisect
import itertools
import json
from array import array
from collections import Counter
from random import Random
from typing import Any

from ..timefmt import SPAN_US, START_US, Clock
from .common import boundary, newest_first
from .contact_records import derive, nul_ids
from .deletes import choose, delete_rng
from .mutation import BadMutation

OP_CREATE, OP_UPDATE, OP_IMPORT, OP_MUTATED, OP_NEW = range(5)
OP_NAMES = ("create", "update", "import", "update", "create")


class ContactStore:
    def __init__(
        self,
        n: int,
        seed: int,
        clock: Clock,
        *,
        team_id: int,
        members: list[dict[str, Any]],
        inboxes: list[dict[str, Any]],
        field_ids: list[int],
        deleted_field_ids: list[int],
        tag_refs: list[dict[str, Any]],
    ) -> None:
        self.seed = seed
        self.millis = clock.millis
        self.unit = clock.unit
        self.clock = clock
        self.fmt = clock.fmt
        self.trunc = clock.trunc
        # what derive() draws from: the five core members, the three core inboxes, ...
        self.team_id = team_id
        self.members = members
        self.inboxes = inboxes
        self.field_ids = field_ids
        self.field_keys = [str(f) for f in field_ids]
        self.deleted_field_keys = [str(f) for f in deleted_field_ids]
        self.tag_refs = tag_refs
        self._json: dict[int, tuple[tuple[int, int], bytes]] = {}
        self._nul_ids: list[int] = []
        self._nul_checked = 0
        self._build(n)

    def _build(self, n: int) -> None:
        r = Random(f"heymarket-contacts-{self.seed}")
        rnd = r.random
        unit = self.unit
        ids = array("q", bytes(8 * n))
        upd = array("q", bytes(8 * n))
        cre = array("q", bytes(8 * n))
        rev = array("l", bytes(array("l").itemsize * n))
        ops = bytearray(n)
        cid = 1_000_000 + r.randrange(100_000)
        for i in range(n):
            cid += 1 + int(rnd() * 6)
            ids[i] = cid
            u = START_US + int(rnd() * SPAN_US)
            u -= u % unit
            upd[i] = u
            if rnd() < 0.3:
                cre[i] = u
                rev[i] = 1
            else:
                c = START_US + int(rnd() * (u - START_US))
                c -= c % unit
                cre[i] = c
                if c == u:
                    rev[i] = 1
                else:
                    rev[i] = 2 + int(rnd() * 14)
                    ops[i] = OP_UPDATE
        # bulk-import / bulk-edit tie groups
        groups = n // 2500
        if n >= 600:
            groups = max(groups, 2)
        elif n >= 250:
            groups = 1
        sizes = []
        for g in range(groups):
            if n >= 600:
                size = 201 + r.randrange(100) if g == 0 else 50 + r.randrange(251)
            else:
                size = 50 + r.randrange(max(1, n // 5 - 50))
            sizes.append(size)
        room = int(n * 0.7)
        for g, size in enumerate(sizes):  # never put more than 70% of contacts in tie groups
            sizes[g] = max(0, min(size, room))
            room -= sizes[g]
        sizes = [s for s in sizes if s >= 2]
        members = r.sample(range(n), sum(sizes)) if sizes else []
        pos = 0
        self.tie_group_times: list[int] = []
        for size in sizes:
            t = START_US + r.randrange(SPAN_US)
            t -= t % unit
            self.tie_group_times.append(t)
            bulk_edit = r.random() < 0.5
            for i in members[pos : pos + size]:
                upd[i] = t
                if bulk_edit:
                    c = START_US + int(rnd() * (t - START_US))
                    c -= c % unit
                    cre[i] = min(c, t)
                    rev[i] = 2 + int(rnd() * 9)
                    ops[i] = OP_UPDATE
                else:
                    cre[i] = t
                    rev[i] = 1
                    ops[i] = OP_IMPORT
            pos += size
        self.ids, self.upd, self.cre, self.rev, self.ops = ids, upd, cre, rev, ops
        # ids ascend with the index, so a stable sort on updated gives (updated, id) order
        self.order = array("q", sorted(range(n), key=upd.__getitem__))
        self.mut_rng = Random(f"heymarket-mutate-{self.seed}")
        #: Ids deleted (`delete`), in the order they went; new ids stay above all of them.
        self.deleted: list[int] = []
        self.del_rng = delete_rng(self.seed, "contacts")

    def __len__(self) -> int:
        return len(self.ids)

    def max_updated(self) -> int | None:
        return self.upd[self.order[-1]] if self.order else None

    def min_updated(self) -> int | None:
        return self.upd[self.order[0]] if self.order else None

    def page(self, date_ns: int | None, inclusive: bool, limit: int, offset: int) -> list[int]:
        hi = boundary(self.order, date_ns, inclusive, self.upd.__getitem__)
        return newest_first(self.order, hi, limit, offset)

    def page_shuffled(
        self, date_ns: int | None, inclusive: bool, limit: int, offset: int, rng: Random
    ) -> list[int]:
        """`page`, with the members of every tie group in the answer in a fresh random
        order (`tie_order=shuffled`: a server with no stable order within equal values)."""
        hi = boundary(self.order, date_ns, inclusive, self.upd.__getitem__)
        start = hi - 1 - offset
        if start < 0:
            return []
        stop = max(start - limit, -1)
        key = self.upd.__getitem__
        # Widen the answer's window of `order` to whole tie groups, then shuffle each.
        low = bisect.bisect_left(self.order, key(self.order[stop + 1]), key=key)
        high = min(bisect.bisect_right(self.order, key(self.order[start]), key=key), hi)
        window = [self.order[j] for j in range(high - 1, low - 1, -1)]  # newest first
        shuffled: list[int] = []
        for _, group in itertools.groupby(window, key=key):
            members = list(group)
            rng.shuffle(members)
            shuffled += members
        first = hi - high  # the newest-first position of window[0]
        return shuffled[offset - first : offset - first + limit]

    def contact(self, idx: int) -> dict[str, Any]:
        # Not cached: a cache of nested dicts makes the cyclic GC's full collections slow
        # (50-100 ms pauses at 1M contacts); the encoded JSON is cached instead.
        out = derive(self, idx)  # keys already in the documented order
        op = self.ops[idx]
        out["created"] = self.fmt(self.cre[idx])
        out["updated"] = self.fmt(self.upd[idx])
        out["rev"] = self.rev[idx]
        out["op"] = OP_NAMES[op]
        if op == OP_MUTATED:  # the sandbox changed it: visible change tied to the revision
            r = Random(self.seed * 1_000_003 + self.ids[idx] * 131 + self.rev[idx])
            key = str(r.choice(self.field_ids))
            out["custom"][key] = f"rev {self.rev[idx]}"
            out["is_opted_out"] = r.random() < 0.1
            others = [k for k in out["custom"] if k != key]
            if others and r.random() < 0.5:  # a value cleared: the key is gone
                del out["custom"][others[int(r.random() * len(others))]]
        return out

    def contact_json(self, idx: int) -> bytes:
        """The contact encoded as JSON, cached while its rev/updated stay the same."""
        key = (self.upd[idx], self.rev[idx])
        hit = self._json.get(idx)
        if hit is not None and hit[0] == key:
            return hit[1]
        raw = json.dumps(self.contact(idx), ensure_ascii=False, separators=(",", ":")).encode()
        if len(self._json) > 100_000:
            self._json.clear()
        self._json[idx] = (key, raw)
        return raw

    def page_json(self, idxs: list[int]) -> bytes:
        return b"[" + b",".join([self.contact_json(i) for i in idxs]) + b"]"

    # --------------------------------------------------------------- mutation
    def _remove_from_order(self, idx: int) -> None:
        upd = self.upd
        pos = bisect.bisect_left(self.order, (upd[idx], idx), key=lambda j: (upd[j], j))
        if pos >= len(self.order) or self.order[pos] != idx:
            raise RuntimeError("order index corrupt")
        del self.order[pos]

    def mutate(self, n: int, new: int) -> tuple[list[int], list[int]]:
        """Change n random contacts and create `new` ones; all get fresh, maximal timestamps."""
        r = self.mut_rng
        count = len(self.ids)
        picks = sorted(r.sample(range(count), min(n, count)))
        fresh = self.clock.fresh(self.max_updated())
        updated_ids, created_ids = [], []
        for idx in picks:
            t = fresh()
            self._remove_from_order(idx)
            self.upd[idx] = t
            self.rev[idx] += 1
            self.ops[idx] = OP_MUTATED
            self.order.append(idx)
            updated_ids.append(self.ids[idx])
        for _ in range(new):
            t = fresh()
            idx = len(self.ids)
            top = max(self.ids[-1] if idx else 1_000_000, max(self.deleted, default=0))
            cid = top + 1 + r.randrange(5)
            self.ids.append(cid)
            self.upd.append(t)
            self.cre.append(t)
            self.rev.append(1)
            self.ops.append(OP_NEW)
            self.order.append(idx)
            created_ids.append(cid)
        return updated_ids, created_ids

    def rewrite(self, ids: list[int]) -> list[int]:
        """Write these contacts again within their `updated`'s clock unit: a new rev, the
        same `updated` (two writes in one second, at `precision` seconds). An id that is
        not there is BadMutation (a 400), and then nothing changes."""
        idxs = []
        for cid in ids:
            idx = bisect.bisect_left(self.ids, cid)
            if idx >= len(self.ids) or self.ids[idx] != cid:
                raise BadMutation(f"rewrite_ids: no contact {cid}")
            idxs.append(idx)
        for idx in idxs:
            self.rev[idx] += 1
            self.ops[idx] = OP_MUTATED
        return list(ids)

    def delete(self, n: int | None, ids: list[int] | None = None) -> list[int]:
        """Hard-delete `n` random contacts (or those of `ids`); return their ids.

        They leave the arrays, so every answer, count and truth loses them; indices above
        them shift down, which `order` and the caches follow.
        """
        picks = choose(self.del_rng, self.ids, n, ids)
        if not picks:
            return []
        gone = [self.ids[i] for i in picks]
        dropped = set(picks)
        self.order = array(
            "q", (j - bisect.bisect_left(picks, j) for j in self.order if j not in dropped)
        )
        for i in reversed(picks):
            for column in (self.ids, self.upd, self.cre, self.rev, self.ops):
                del column[i]
        # Caches keyed by index (contact_status keeps a phone index on the store).
        self._json.clear()
        self._nul_ids, self._nul_checked = [], 0
        self.__dict__.pop("phone_index", None)
        self.__dict__.pop("phone_index_checked", None)
        self.deleted += gone
        return gone

    # --------------------------------------------------------------- truth
    def nul_ids(self) -> list[int]:
        """Ids of the contacts whose names hold U+0000 (checked once per id, then kept)."""
        self._nul_ids += nul_ids(self.seed, self.ids[self._nul_checked :])
        self._nul_checked = len(self.ids)
        return list(self._nul_ids)

    def truth(self, with_updated: bool) -> dict[str, Any]:
        """The legacy top-level keys of /__sandbox/truth that describe contacts."""
        ids, rev, upd = self.ids, self.rev, self.upd
        out: dict[str, Any] = {
            "contacts": {str(ids[i]): rev[i] for i in range(len(ids))},
            "count": len(ids),
            "max_updated": None if not ids else self.fmt(self.max_updated() or 0),
            "min_updated": None if not ids else self.fmt(self.min_updated() or 0),
        }
        if with_updated:
            out["updated"] = {str(ids[i]): self.fmt(upd[i]) for i in range(len(ids))}
        return out

    def tie_truth(self) -> dict[str, Any]:
        groups: list[dict[str, Any]] = []
        key = self.upd.__getitem__
        for t in set(self.tie_group_times):
            size = bisect.bisect_right(self.order, t, key=key) - bisect.bisect_left(
                self.order, t, key=key
            )
            groups.append({"updated": self.fmt(t), "size": size})
        groups.sort(key=lambda g: (-int(g["size"]), str(g["updated"])))
        counts = Counter(self.upd)
        return {"tie_groups": groups, "max_tie_size": max(counts.values()) if counts else 0}
