"""The surveys store: a full table with no cursor, newest `created` first (ties id
descending); served by api/surveys.py as POST /v1/surveys, pages of `limit` from 1."""

from __future__ import annotations

from random import Random
from typing import Any

from ..timefmt import END_US, SPAN_US, START_US, Clock
from .common import stream

NPS = (
    ("Net Promoter Score", "How likely are you to recommend us to a friend or colleague?"),
    ("NPS — Q3 check-in", "¿Qué probabilidad hay de que nos recomiende?"),
    ("Post-purchase NPS 🛒", "On a scale of 0-10, would you recommend {{company}}?"),
    ("NPS (retail)", "Wie wahrscheinlich ist es, dass Sie uns weiterempfehlen?"),
)
CSAT = (
    ("Support satisfaction", "How satisfied were you with your support experience?"),
    ("CSAT after visit", "Rate your visit today:\n1 = poor, 5 = great"),
    ("Delivery CSAT 📦", "¿Qué tan satisfecho está con su entrega?"),
    ("Onboarding survey", 'Was "getting started" easy? Reply 1-5.'),
)


class Surveys:
    def __init__(self, n: int, seed: int, clock: Clock) -> None:
        self.clock = clock
        r = Random(f"heymarket-surveys-{seed}")
        sid = 800 + r.randrange(200)
        items: list[dict[str, Any]] = []
        for i in range(n):
            sid += 1 + r.randrange(3)
            kind = "nps" if r.random() < 0.6 else "csat"
            name, question = r.choice(NPS if kind == "nps" else CSAT)
            created = clock.trunc(START_US + r.randrange(SPAN_US))
            edited = r.random() < 0.5
            updated = clock.trunc(r.randrange(created, END_US)) if edited else created
            items.append(
                {
                    "id": sid,
                    "name": name if i < 4 else f"{name} #{i}",
                    "type": kind,
                    "question": question,
                    "_created": created,
                    "_updated": updated,
                }
            )
        items.sort(key=lambda s: (s["_created"], s["id"]), reverse=True)
        self.items = items  # newest created first

    def __len__(self) -> int:
        return len(self.items)

    def obj(self, s: dict[str, Any]) -> dict[str, Any]:
        fmt = self.clock.fmt
        out: dict[str, Any] = {k: v for k, v in s.items() if not k.startswith("_")}
        out["created"] = fmt(s["_created"])
        out["updated"] = fmt(s["_updated"])
        return out

    def truth(self, with_updated: bool) -> dict[str, Any]:
        extra = {}
        if with_updated:
            extra["updated"] = {str(s["id"]): self.clock.fmt(s["_updated"]) for s in self.items}
        return stream({str(s["id"]): None for s in self.items}, **extra)
