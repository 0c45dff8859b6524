"""POST /v1/surveys: body {limit, page}, pages start at 1; a full table with no cursor.

Newest `created` first (ties id descending). `limit` defaults to 10 and is clamped by
max_limit (a short page is then not the last); what page 0 does is the survey_page0 switch.
"""

from __future__ import annotations

from random import Random
from typing import Any

from ..timefmt import END_US, SPAN_US, START_US, Clock
from .common import ApiError, Call, Route, int_field, limit_field, stream

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


def list_surveys(call: Call) -> list[dict[str, Any]]:
    body = call.body()
    cfg = call.config
    limit = limit_field(body, 10)
    page = int_field(body, "page", None)
    if page is not None and page < 0:
        raise ApiError(400, "bad_data", "page must be >= 1")
    if not page:  # missing or 0
        if cfg["survey_page0"] == "error":
            raise ApiError(400, "bad_data", "page must be >= 1")
        page = 1
    if cfg["max_limit"]:
        limit = min(limit, cfg["max_limit"])
    store = call.world.surveys
    start = (page - 1) * limit
    return [store.obj(s) for s in store.items[start : start + limit]]


ROUTES = (Route("POST", "/v1/surveys", list_surveys, is_list=True),)
