"""The tags store: 40..48 tags in tie groups on `updated` (served by api/tags.py as POST
/v1/tags: up to 30 tags, newest first, `date` = updated before; a date cursor)."""

from __future__ import annotations

from random import Random
from typing import Any

from ..timefmt import SPAN_US, START_US, Clock
from .common import stream
from .deletes import choose, delete_rng

TAG_NAMES = (
    "VIP",
    "Lead",
    "Customer",
    "Newsletter",
    "🔥 Hot",
    "Évènement",
    "عميل",
    "לקוח",
    "Churned",
    "Trial",
    "Enterprise",
    "SMB",
    "Partner",
    "Do not contact",
    "Follow-up",
    "Event 2024",
    "Event 2025",
    "Webinar",
    "Referral",
    "Wholesale",
    "Retail",
    "Spanish",
    "Français",
    "Deutsch",
    "日本語",
    "Support",
    "Billing",
    "Onboarding",
    "Beta",
    "Prospect",
    "Cold",
    "Warm",
    "Hot",
    "Abandoned cart",
    "Reviewer",
    "Ambassador",
    "Investor",
    "Press",
    "Vendor",
    "Student",
    "Teacher",
    "Parent",
    "Volunteer",
    "Donor",
    "Board",
    "Alumni",
    "Staff",
    "Intern",
)


class Tags:
    """40..48 tags whose `updated` is shared by groups of at most 8."""

    def __init__(self, r: Random, clock: Clock, team_id: int) -> None:
        self.clock = clock
        count = 40 + r.randrange(9)
        names = list(TAG_NAMES)
        r.shuffle(names)
        tid = 5_000 + r.randrange(1_000)
        tags: list[dict[str, Any]] = []
        sizes = [8]
        while sum(sizes) < count:
            sizes.append(min(r.choice((1, 1, 1, 1, 2, 2, 3, 5, 8)), count - sum(sizes)))
        for size in sizes:
            upd = clock.trunc(START_US + r.randrange(SPAN_US))
            for _ in range(size):
                tid += 1 + r.randrange(4)
                created = clock.trunc(START_US + r.randrange(upd - START_US + 1))
                tags.append(
                    {
                        "id": tid,
                        "tag": names[len(tags)],
                        "color": f"#{r.randrange(0x1000000):06X}",
                        "team_id": team_id,
                        "_created": created,
                        "_updated": upd,
                        "rev": 1 if created == upd else 2 + r.randrange(9),
                    }
                )
        tags.sort(key=lambda t: (t["_updated"], t["id"]))
        self.tags = tags  # ascending (updated, id)
        self.updated: list[int] = [t["_updated"] for t in tags]
        #: what a contact's `tags` array holds (shared, read-only dicts)
        self.refs = [{"id": t["id"], "name": t["tag"], "color": t["color"]} for t in tags]
        #: ids deleted (`delete`); contacts keep naming them (the sandbox does not edit them)
        self.deleted: list[int] = []
        self.del_rng = delete_rng(team_id, "tags")  # team_id: drawn from the seed

    def __len__(self) -> int:
        return len(self.tags)

    def delete(self, n: int | None, ids: list[int] | None = None) -> list[int]:
        """Hard-delete `n` random tags (or those of `ids`); return their ids."""
        picks = choose(self.del_rng, [t["id"] for t in self.tags], n, ids)
        gone = [self.tags[i]["id"] for i in picks]
        for i in reversed(picks):
            del self.tags[i]
            del self.updated[i]
        self.deleted += gone
        return gone

    def obj(self, t: dict[str, Any]) -> dict[str, Any]:
        return {
            "id": t["id"],
            "tag": t["tag"],
            "color": t["color"],
            "team_id": t["team_id"],
            "created": self.clock.fmt(t["_created"]),
            "updated": self.clock.fmt(t["_updated"]),
            "rev": t["rev"],
        }

    def truth(self, with_updated: bool) -> dict[str, Any]:
        extra = {}
        if with_updated:
            extra["updated"] = {str(t["id"]): self.clock.fmt(t["_updated"]) for t in self.tags}
        return stream({str(t["id"]): t["rev"] for t in self.tags}, **extra)
