"""The inboxes: every inbox of the team, a full table (served by api/inboxes.py as
GET /v1/inboxes, a bare array; no body, no paging).

Documented fields plus undocumented extras (created, business_hours, auto_close, timezone),
and `invited` a boolean on even positions, an array of strings on odd ones (the docs
disagree with themselves).
"""

from __future__ import annotations

from random import Random
from typing import Any

from ..timefmt import SPAN_US, START_US, US, Clock
from .common import stream
from .team import Team

CORE_NAMES = ("Main line", "Support ☎️", "Ventas España")
EXTRA_NAMES = (
    "Billing",
    "Nachtdienst 🌙",
    "West Coast",
    "Store #12",
    "Marketing",
    "שירות לקוחות",
    "Recruiting",
    "VIP concierge",
)
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
ZONES = ("America/New_York", "America/Los_Angeles", "Europe/Madrid", "Asia/Jerusalem", "UTC")
DOMAINS = ("example.com", "shop.example.com", "exämple.de", "localhost:3000")


def core_inboxes(r: Random) -> list[dict[str, Any]]:
    """The first three inboxes, drawn from the shared meta generator (contacts use them)."""
    return [
        {
            "id": 90_000 + r.randrange(10_000) * 3 + i,
            "name": CORE_NAMES[i],
            "phone": "1" + "".join(str(r.randrange(10)) for _ in range(10)),
            "_created": START_US - r.randrange(400 * 86400) * US - r.randrange(US),
        }
        for i in range(3)
    ]


def _phone(r: Random) -> str:
    return "1" + "".join(str(r.randrange(10)) for _ in range(10))


def build(
    core: list[dict[str, Any]], team: Team, count: int, empty: bool, seed: int
) -> list[dict[str, Any]]:
    """`inboxes` switch: the first min(N, 3) core inboxes, then more; `empty_inbox` adds one
    without members. Contacts always point at core inboxes (with N < 3, at some the
    credentials cannot reach)."""
    r = Random(f"heymarket-inboxes-{seed}")
    next_id = max(c["id"] for c in core) + 1 + r.randrange(40)
    out = []
    for i in range(count + (1 if empty else 0)):
        if i < min(count, 3):
            base = dict(core[i])
        else:
            name = EXTRA_NAMES[(i - 3) % len(EXTRA_NAMES)]
            if i - 3 >= len(EXTRA_NAMES):
                name += f" {(i - 3) // len(EXTRA_NAMES) + 1}"
            base = {
                "id": next_id,
                "name": "Overflow (unstaffed)" if i == count else name,
                "phone": _phone(r),
                "_created": START_US + r.randrange(SPAN_US),
            }
            next_id += 1 + r.randrange(40)
        out.append(_inbox(r, i, base, team, members=i < count))
    return out


def _inbox(r: Random, i: int, base: dict[str, Any], team: Team, members: bool) -> dict[str, Any]:
    ids = team.member_ids
    picked = sorted(r.sample(ids, 1 + r.randrange(min(5, len(ids))))) if members else []
    phones = [base["phone"]] + ([_phone(r)] if r.random() < 0.3 else [])
    rev = 1 + r.randrange(20)
    code = f"{r.getrandbits(64):016x}"
    invited: bool | list[str]
    if i % 2 == 0:
        invited = r.random() < 0.5
    else:
        invited = [f"invitee{r.randrange(1000)}@example.com" for _ in range(1 + r.randrange(3))]
    hours = None
    if r.random() < 0.7:
        start, end = 7 + r.randrange(3), 16 + r.randrange(5)
        hours = {
            "enabled": r.random() < 0.8,
            "timezone": r.choice(ZONES),
            "days": {d: [{"open": f"{start:02d}:00", "close": f"{end:02d}:00"}] for d in DAYS[:5]}
            | {d: [] for d in DAYS[5:]},
        }
    return {
        "id": base["id"],
        "name": base["name"],
        "team": team.id,
        "members": picked,
        "phone": base["phone"],
        "phones": phones,
        "auto_assignable": r.random() < 0.5,
        "forward_number": None if r.random() < 0.5 else _phone(r),
        "widget_code": f'<script src="https://widget.heymarket.com/{code}.js" async></script>',
        "widget_settings": {
            "color": f"#{r.randrange(0x1000000):06X}",
            "greeting": ("Hi! How can we help? 👋", "¿En qué podemos ayudarle?", "")[i % 3],
            "position": r.choice(("right", "left")),
            "enabled": r.random() < 0.7,
        },
        "allowed_domains": sorted(r.sample(DOMAINS, r.randrange(len(DOMAINS) + 1))),
        "invited": invited,
        "bco_chats": r.random() < 0.3,
        "op": "create" if rev == 1 else "update",
        "rev": rev,
        # undocumented extras, as third-party samples show
        "_created": base["_created"],
        "business_hours": hours,
        "auto_close": {"enabled": r.random() < 0.5, "after_hours": r.choice((24, 48, 72, 168))},
    }


def obj(inbox: dict[str, Any], clock: Clock) -> dict[str, Any]:
    out = {k: v for k, v in inbox.items() if k != "_created"}
    out["created"] = clock.fmt(clock.trunc(inbox["_created"]))
    return out


def truth(inboxes: list[dict[str, Any]]) -> dict[str, Any]:
    return stream(
        {str(i["id"]): i["rev"] for i in inboxes},
        without_members=[i["id"] for i in inboxes if not i["members"]],
    )
