"""One contact's fields, derived from (seed, id) with its own generator.

Only id, created, updated, rev and op are stored (contacts.py); everything else is drawn
here, in a fixed order, from Random(seed * 1_000_003 + id) — never reorder the draws: tap
tests depend on the exact data of a seed. Contacts chosen by `has_nul` then get U+0000 in
their names (and some in a custom value and a note), as CRM data imported from
spreadsheets does; that step draws nothing.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Iterable, Sequence
from random import Random
from typing import Any, Protocol

from .contact_words import CHANNELS, COMPANIES, CUSTOM_VALUES, EMOJI, FIRST, LAST, TEXTS


class ContactSource(Protocol):
    """What `derive` reads of the contacts store (data/contacts.py's ContactStore), typed
    here so that this module need not import the store that imports it."""

    @property
    def seed(self) -> int: ...
    @property
    def ids(self) -> Sequence[int]: ...
    @property
    def cre(self) -> Sequence[int]: ...
    @property
    def upd(self) -> Sequence[int]: ...
    @property
    def team_id(self) -> int: ...
    @property
    def members(self) -> list[dict[str, Any]]: ...
    @property
    def inboxes(self) -> list[dict[str, Any]]: ...
    @property
    def field_keys(self) -> list[str]: ...
    @property
    def deleted_field_keys(self) -> list[str]: ...
    @property
    def tag_refs(self) -> list[dict[str, Any]]: ...
    @property
    def fmt(self) -> Callable[[int], str]: ...
    @property
    def trunc(self) -> Callable[[int], int]: ...


_SLUGS: dict[str | None, str] = {}


def _slug(name: str | None) -> str:
    """ASCII e-mail local part from a name ('Ólafur' → 'olafur', '王' → '')."""
    out = _SLUGS.get(name)
    if out is None:
        folded = unicodedata.normalize("NFKD", (name or "user").lower())
        out = _SLUGS[name] = "".join(ch for ch in folded if ch.isascii() and ch.isalnum())
    return out


def derive(s: ContactSource, idx: int) -> dict[str, Any]:
    """The contact's static fields; created/updated/rev/op are None (filled in by the store)."""
    cid = s.ids[idx]
    r = Random(s.seed * 1_000_003 + cid)
    rnd = r.random
    created_us = s.cre[idx]
    first: str | None = FIRST[int(rnd() * len(FIRST))]
    last: str | None = LAST[int(rnd() * len(LAST))]
    x = rnd()
    if x < 0.05:
        display: str | None = None
    elif x < 0.10:
        display = ""
    elif x < 0.18:
        display = COMPANIES[int(rnd() * len(COMPANIES))]
    elif x < 0.30:
        display = f"{first} {EMOJI[int(rnd() * len(EMOJI))]}"
    else:
        display = f"{first} {last}"
    if rnd() < 0.06:
        first = None
    if rnd() < 0.06:
        last = None
    x = rnd()
    slug = _slug(first)
    if x < 0.08:
        email: str | None = None
    elif x < 0.18:
        email = ""
    elif x < 0.22:
        email = f"{(first or 'usér').lower().replace(' ', '.')}.{cid}@exämple.com"
    elif x < 0.30:
        email = f"{(slug or 'user').title()}.{cid}+sms@Example.COM"
    else:
        email = f"{slug or 'user'}.{cid}@example.com"
    cc = ("1", "1", "1", "1", "1", "1", "44", "972", "971", "52", "91", "81")[int(rnd() * 12)]
    phone = cc + str(2_000_000_000 + int(rnd() * 7_999_999_999))
    custom: dict[str, str] = {}
    fkeys, nvals = s.field_keys, len(CUSTOM_VALUES)
    for _ in range(int(rnd() * 6)):  # repeats just overwrite
        custom[fkeys[int(rnd() * len(fkeys))]] = CUSTOM_VALUES[int(rnd() * nvals)]
    if rnd() < 0.15:  # keys of fields deleted since
        dkeys = s.deleted_field_keys
        for _ in range(1 + int(rnd() * 2)):
            custom[dkeys[int(rnd() * len(dkeys))]] = CUSTOM_VALUES[int(rnd() * nvals)]
    members = s.members
    creator = members[int(rnd() * 5)]["id"]
    assigned = None if rnd() < 0.3 else members[int(rnd() * 5)]["id"]
    inbox = s.inboxes[int(rnd() * 3)]
    parent = None if rnd() < 0.85 else max(1_000_000, cid - 1 - int(rnd() * 5000))
    ntags = (0, 0, 0, 1, 1, 1, 2, 2, 3, 4, 5)[int(rnd() * 11)]
    refs = s.tag_refs
    tags = list(
        {id(t): t for t in (refs[int(rnd() * len(refs))] for _ in range(ntags))}.values()
    )  # distinct, shared read-only dicts
    x = rnd()
    avatar = None if x < 0.5 else "" if x < 0.6 else f"https://cdn.example.com/a/{cid}.png"
    x = rnd()
    external_id = None if x < 0.6 else "" if x < 0.7 else f"crm_{int(rnd() * 1e9)}"
    x = rnd()
    external_ref = None if x < 0.7 else "" if x < 0.8 else f"hubspot:{int(rnd() * 1e7)}"
    x = rnd()
    ctype = (None, None, None, "", "lead", "customer", "vip")[int(x * 7)]
    span = max(s.upd[idx] - created_us, 0)
    notes = []
    for _ in range((0, 0, 0, 0, 1, 1, 2, 3)[int(rnd() * 8)]):
        m = members[int(rnd() * 5)]
        notes.append(
            {
                "date": s.fmt(s.trunc(created_us + int(rnd() * span))),
                "id": 10_000_000 + int(rnd() * 89_999_999),
                "name": m["name"],
                "text": TEXTS[int(rnd() * len(TEXTS))],
                "user_id": m["id"],
            }
        )
    channels = []
    for _ in range((0, 0, 1, 1, 1, 2, 3)[int(rnd() * 7)]):
        kind = CHANNELS[int(rnd() * 5)]
        if kind in ("phone", "whatsapp"):
            chan_id, handle = phone, "+" + phone
        elif kind == "email":
            chan_id = handle = email or f"{cid}@example.net"
        else:
            chan_id = str(10**15 + int(rnd() * 9 * 10**15))
            handle = f"@{slug or 'user'}{int(rnd() * 1000)}"
        c_created = s.trunc(created_us + int(rnd() * span))
        chan_pk = 1_000_000 + int(rnd() * 9_000_000)
        channels.append(
            {
                "id": str(chan_pk) if rnd() < 0.2 else chan_pk,
                "team_id": str(s.team_id) if rnd() < 0.1 else s.team_id,
                "contact_id": str(cid) if rnd() < 0.3 else cid,
                "channel_type": kind,
                "channel_id": chan_id,
                "channel_handle": handle,
                "info_channel": (None, inbox["phone"], kind, "")[int(rnd() * 4)],
                "created": s.fmt(c_created),
                "updated": s.fmt(s.trunc(c_created + int(rnd() * (span + 1)))),
            }
        )
    out: dict[str, Any] = {
        "id": cid,
        "display_name": display,
        "first": first,
        "last": last,
        "email": email,
        "phone": phone,
        "custom": custom,
        "team_id": s.team_id,
        "creator_id": creator,
        "inbox_id": inbox["id"],
        "parent_id": parent,
        "assigned_user_id": assigned,
        "shared": rnd() < 0.4,
        "created": None,  # dynamic fields, filled in by contact()
        "updated": None,
        "rev": None,
        "op": None,
        "tags": tags,
        "is_opted_out": rnd() < 0.05,
        "avatar": avatar,
        "external_id": external_id,
        "external_ref": external_ref,
        "type": ctype,
        "note": notes,
    }
    if rnd() >= 0.1:  # uuid is absent on ~10% of contacts
        h = f"{r.getrandbits(128):032x}"
        variant = "89ab"[int(h[16], 16) & 3]
        out["uuid"] = f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{variant}{h[17:20]}-{h[20:]}"
    out["contact_channels"] = channels
    mark = nul_mark(s.seed, cid)
    if mark:
        _add_nuls(out, mark)
    return out


_MUL = 0x9E3779B97F4A7C15
_M64 = (1 << 64) - 1


def nul_mark(seed: int, cid: int) -> int:
    """Nonzero (the seed of where the NULs go) for about 1 contact in 50, else 0."""
    h = (cid * _MUL + seed * 0xC2B2AE3D27D4EB4F) & _M64
    return h | 1 if (h >> 40) % 50 == 0 else 0


def nul_ids(seed: int, ids: Iterable[int]) -> list[int]:
    """The ids among `ids` that nul_mark picks (the same test, inlined for speed)."""
    salt = seed * 0xC2B2AE3D27D4EB4F
    return [c for c in ids if (((c * _MUL + salt) & _M64) >> 40) % 50 == 0]


def _add_nuls(out: dict[str, Any], mark: int) -> None:
    """U+0000 inside every non-empty name (display_name is a lone U+0000 if none is), and for
    about half of these contacts inside their first custom value, for half their first note's
    text. Draws from its own generator, so nothing else about the contact changes."""
    r = Random(mark)
    hit = False
    for key in ("first", "last", "display_name"):
        value = out[key]
        if value:
            cut = r.randrange(len(value) + 1)
            out[key] = value[:cut] + "\x00" + value[cut:]
            hit = True
    if not hit:
        out["display_name"] = "\x00"
    custom = out["custom"]
    if r.random() < 0.5 and custom:
        key = next(iter(custom))
        custom[key] = custom[key][:1] + "\x00" + custom[key][1:]
    if r.random() < 0.5 and out["note"]:
        note = out["note"][0]
        text = note["text"]
        note["text"] = text[: len(text) // 2] + "\x00" + text[len(text) // 2 :]
