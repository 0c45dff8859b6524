"""The contact fields store: the team's custom fields, {id, title, duplicate}; a full table
(served by api/contact_fields.py).

The titles are awkward on purpose, as a real team's are: two that differ only by case
and a trailing space, an empty one, one that is only an emoji, one that equals a
built-in contact column (`Email`), accents, CJK. `rename` (POST /__sandbox/mutate
{"fields": k}) renames fields at runtime.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from random import Random
from typing import Any

from .common import stream

#: The titles of the 12 live fields, in the order the seed shuffles them into.
LIVE_TITLES = (
    "Company",
    "Birthday",
    "birthday ",
    "",
    "Email",
    "Región",
    "顧客ID",
    "Loyalty tier",
    "Notes 📝",
    "Plan",
    "Lifetime value ($)",
    "🎂",
)
#: 15 ids are drawn, 3 of them deleted fields (keys that contacts still hold).
FIELD_COUNT = 15


@dataclass
class ContactFields:
    fields: list[dict[str, Any]]
    deleted_ids: list[int]
    renames: int = field(default=0)

    @property
    def ids(self) -> list[int]:
        return [f["id"] for f in self.fields]

    def truth(self) -> dict[str, Any]:
        return stream({str(i): None for i in self.ids}, deleted=list(self.deleted_ids))

    def titles(self) -> dict[str, str]:
        return {str(f["id"]): f["title"] for f in self.fields}

    def rename(self, k: int) -> list[int]:
        """Rename k fields, in a fixed rotation by id: `<title> (renamed <n>)`."""
        changed = []
        by_id = sorted(self.fields, key=lambda f: f["id"])
        for _ in range(k if by_id else 0):
            target = by_id[self.renames % len(by_id)]
            self.renames += 1
            base = target["title"].split(" (renamed ")[0]
            target["title"] = f"{base} (renamed {self.renames})"
            changed.append(target["id"])
        return changed


def build(r: Random) -> ContactFields:
    """12 live fields with 3 deleted ids interleaved (drawn from the shared meta generator).

    The draws (15 ids, a sample of 3, a shuffle of 15) are those of every earlier version,
    so the tags drawn after them, and the contacts' custom keys, stay the same per seed.
    """
    fid = 3_000 + r.randrange(1_000)
    ids = []
    for _ in range(FIELD_COUNT):
        fid += 1 + r.randrange(9)
        ids.append(fid)
    deleted = set(r.sample(ids, 3))
    order = list(range(FIELD_COUNT))
    r.shuffle(order)
    titles = [LIVE_TITLES[i] for i in order if i < len(LIVE_TITLES)]
    live = [f for f in ids if f not in deleted]
    # `duplicate` as the create endpoint answers it: a field the list's docs do not show.
    fields = [
        {"id": f, "title": title, "duplicate": False} for f, title in zip(live, titles, strict=True)
    ]
    return ContactFields(fields, sorted(deleted))
