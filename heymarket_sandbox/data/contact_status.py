"""The contact status answers: one contact's messaging status (served by
api/contact_status.py as POST /v1/contact/status, by `id` or `phone`).

The answer is `{id, phone, unsubscribed, blocked}`, as documented; about 40 % of answers
also carry `unsubscribed_admin`, `unsubscribed_contact` and `locked` (as third-party
samples show), and about 10 % an undocumented `opt_out_source`. It is deterministic from
(seed, contact id, rev): a changed contact may answer differently. `unsubscribed` is the
contact's `is_opted_out`. An unknown id or phone answers 404 `not_found`, and so do the
contacts the `status_missing` switch picks (a hash of seed and id), as if deleted after the
list answer.
"""

from __future__ import annotations

import bisect
from random import Random
from typing import TYPE_CHECKING, Any

from .common import stream

if TYPE_CHECKING:
    from .contacts import ContactStore

SOURCES = ("keyword", "admin", "import", "carrier")


def answer(store: ContactStore, idx: int) -> dict[str, Any]:
    """The status of the contact at index `idx`."""
    contact = store.contact(idx)
    cid, rev = store.ids[idx], store.rev[idx]
    r = Random(f"heymarket-status-{store.seed}-{cid}-{rev}")
    unsubscribed = bool(contact["is_opted_out"])
    out: dict[str, Any] = {
        "id": cid,
        "phone": contact["phone"],
        "unsubscribed": unsubscribed,
        "blocked": r.random() < 0.04,
    }
    if r.random() < 0.4:
        by_admin = unsubscribed and r.random() < 0.5
        out["unsubscribed_admin"] = by_admin
        out["unsubscribed_contact"] = unsubscribed and not by_admin
        out["locked"] = r.random() < 0.05
    if r.random() < 0.1:
        out["opt_out_source"] = SOURCES[int(r.random() * len(SOURCES))]
    return out


_MUL = 0x9E3779B97F4A7C15
_M64 = (1 << 64) - 1


def missing(seed: int, cid: int, fraction: float) -> bool:
    """True for the contacts the `status_missing` switch makes answer 404."""
    if fraction <= 0:
        return False
    h = (cid * _MUL + seed * 0xD6E8FEB86659FD93 + 0x5851F42D4C957F2D) & _M64
    return ((h >> 11) / float(1 << 53)) < fraction


def index_of(store: ContactStore, cid: int) -> int | None:
    """The index of contact `cid` (ids ascend with the index), or None."""
    i = bisect.bisect_left(store.ids, cid)
    return i if i < len(store.ids) and store.ids[i] == cid else None


def index_of_phone(store: ContactStore, phone: str) -> int | None:
    """The index of the first contact with this phone, from an index kept on the store and
    extended on each lookup to the contacts created since (phones never change)."""
    index: dict[str, int] = store.__dict__.setdefault("phone_index", {})
    checked: int = store.__dict__.get("phone_index_checked", 0)
    for idx in range(checked, len(store.ids)):
        index.setdefault(store.contact(idx)["phone"], idx)
    store.__dict__["phone_index_checked"] = len(store.ids)
    return index.get(phone)


def truth(store: ContactStore, fraction: float) -> tuple[dict[str, Any], dict[str, Any]]:
    """(every answer by contact id, the truth["streams"] entry of contact_status), without
    the contacts that answer 404 (`status_missing`)."""
    listed = [i for i in range(len(store.ids)) if not missing(store.seed, store.ids[i], fraction)]
    answers = {str(store.ids[i]): answer(store, i) for i in listed}
    return answers, stream({str(store.ids[i]): store.rev[i] for i in listed})
