"""The templates store (served by api/templates.py as POST /v1/templates: at most 30
templates, newest first, `date` = updated before).

Deliberate tie groups on `updated`: one straddles the first 30-template page boundary, and
with `template_tie` N > 30 one group of N is larger than any answer (the API's page cannot
get past it unless `page` is honoured: the walker's one lossy case). `archived_templates`
decides whether archived templates are listed at all; mutations change them under a running sync.
"""

from __future__ import annotations

from operator import itemgetter
from random import Random
from typing import Any

from ..timefmt import SPAN_US, START_US, Clock
from .common import stream
from .deletes import choose, delete_rng

NAMES = (
    "Welcome",
    "Appointment reminder ⏰",
    "Follow-up",
    "Order shipped 📦",
    "Review request",
    "Recordatorio de cita",
    "Out of office",
    "Payment due",
    "Rendez-vous confirmé",
    "Holiday hours 🎄",
    "Survey invite",
    "Missed call",
    "予約の確認",
    "Promo: 20% off",
    "Back in stock",
    "تأكيد الطلب",
)
TEXTS = (
    "Hi {{first_name}}, thanks for reaching out! We'll reply shortly.",
    "Reminder: your appointment is on {{date}} at {{time}}. Reply C to confirm.",
    "Line one\nLine two\n\nReply STOP to opt out.",
    'Use code "SPRING20" 🌸 — valid until Sunday.',
    "¿Podemos ayudarle con algo más?",
    "Tabs\tand\ttabs",
    "",
)
_ORDER = itemgetter("_updated", "id")


def _sizes(n: int, r: Random, big_tie: int) -> list[int]:
    """Tie-group sizes, newest first: one group covers positions 29 and 30 (the first page
    boundary), and with `big_tie` (when room allows) the next one holds that many."""
    sizes: list[int] = []
    filled, straddled, big = 0, n < 31, big_tie <= 0
    while filled < n:
        if not straddled and filled >= 24:
            size = 31 - filled + r.randrange(3)
            straddled = True
        elif not big and filled >= 30 and n - filled >= big_tie:
            size = big_tie
            big = True
        else:
            size = r.choice((1, 1, 1, 1, 2, 2, 3, 4))
        size = min(size, n - filled)
        sizes.append(size)
        filled += size
    return sizes


class Templates:
    def __init__(
        self, n: int, seed: int, clock: Clock, team_id: int, members: list[int], big_tie: int = 0
    ) -> None:
        self.clock = clock
        r = Random(f"heymarket-templates-{seed}")
        sizes = _sizes(n, r, big_tie)
        ticks = sorted(r.sample(range(SPAN_US // clock.unit), len(sizes)), reverse=True)
        tid = 30_000 + r.randrange(1_000)
        ids = []
        for _ in range(n):
            tid += 1 + r.randrange(5)
            ids.append(tid)
        r.shuffle(ids)
        items: list[dict[str, Any]] = []
        for size, tick in zip(sizes, ticks, strict=True):
            upd = START_US + tick * clock.unit
            for _ in range(size):
                i = len(items)
                tid = ids[i]
                round_ = i // len(NAMES)
                name = NAMES[i % len(NAMES)] + (f" ({round_ + 1})" if round_ else "")
                created = upd if r.random() < 0.3 else clock.trunc(r.randrange(START_US, upd + 1))
                pictures = r.choice((0, 0, 1, 2))
                gallery = [f"https://cdn.example.com/t/{tid}-{k}.jpg" for k in range(pictures)]
                items.append(
                    {
                        "id": tid,
                        "name": name,
                        "local_id": "" if r.random() < 0.1 else f"tmpl-{r.getrandbits(48):012x}",
                        "content": {"text": r.choice(TEXTS), "gallery": gallery},
                        "team_id": team_id,
                        "creator_id": r.choice(members),
                        "shared": r.random() < 0.6,
                        "_created": created,
                        "_updated": upd,
                        "rev": 1 if created == upd else 2 + r.randrange(12),
                        "archived": r.random() < 0.15,
                    }
                )
        if items and not any(t["archived"] for t in items):
            items[-1]["archived"] = True
        items.sort(key=_ORDER)
        self.items = items  # ascending (updated, id)
        self.mut_rng = Random(f"heymarket-templates-mutate-{seed}")
        #: ids deleted (`delete`, as `DELETE /v1/template/{id}`), in the order they went
        self.deleted: list[int] = []
        self.del_rng = delete_rng(seed, "templates")

    def __len__(self) -> int:
        return len(self.items)

    def listed(self, hidden: bool) -> list[dict[str, Any]]:
        return [t for t in self.items if not t["archived"]] if hidden else self.items

    def obj(self, t: dict[str, Any]) -> dict[str, Any]:
        fmt = self.clock.fmt
        return {
            "id": t["id"],
            "name": t["name"],
            "local_id": t["local_id"],
            "content": {"text": t["content"]["text"], "gallery": list(t["content"]["gallery"])},
            "team_id": t["team_id"],
            "creator_id": t["creator_id"],
            "shared": t["shared"],
            "created": fmt(t["_created"]),
            "updated": fmt(t["_updated"]),
            "rev": t["rev"],
            "archived": t["archived"],
        }

    def delete(self, n: int | None, ids: list[int] | None = None) -> list[int]:
        """Hard-delete `n` random templates (or those of `ids`), archived or not."""
        picks = choose(self.del_rng, [t["id"] for t in self.items], n, ids)
        gone = [self.items[i]["id"] for i in picks]
        for i in reversed(picks):
            del self.items[i]
        self.deleted += gone
        return gone

    def mutate(self, k: int) -> list[int]:
        """Change k templates: updated = now (strictly after every other), rev + 1, a visible
        edit, and archived flipped for about one in four."""
        r = self.mut_rng
        picks = sorted(r.sample(self.items, min(k, len(self.items))), key=itemgetter("id"))
        fresh = self.clock.fresh(self.items[-1]["_updated"] if self.items else None)
        for t in picks:
            t["_updated"] = fresh()
            t["rev"] += 1
            t["content"] = {**t["content"], "text": f"{t['content']['text']} (v{t['rev']})"}
            if r.random() < 0.25:
                t["archived"] = not t["archived"]
        self.items.sort(key=_ORDER)
        return [t["id"] for t in picks]

    def truth(self, hidden: bool, with_updated: bool) -> dict[str, Any]:
        """What the API can return: with archived_templates=hidden, no archived template."""
        listed = self.listed(hidden)
        extra: dict[str, Any] = {
            "archived_templates": "hidden" if hidden else "listed",
            "archived": sorted(t["id"] for t in self.items if t["archived"]),
            "not_listed": sorted(t["id"] for t in self.items if hidden and t["archived"]),
        }
        if with_updated:
            extra["updated"] = {str(t["id"]): self.clock.fmt(t["_updated"]) for t in listed}
        return stream({str(t["id"]): t["rev"] for t in listed}, **extra)
