"""Deterministic, compact data set of the Heymarket sandbox.

Per contact only id, created, updated (integer microseconds, already truncated to the
precision), rev and op live in arrays; every other field is derived lazily from
(seed, id) with a per-contact PRNG.  `order` holds contact indices ascending by
(updated, id): reversed it is newest first with id-descending ties.
"""

from __future__ import annotations

import bisect
import calendar
import json
import re
import time
import unicodedata
from array import array
from collections import Counter
from random import Random
from typing import Any

US = 1_000_000
START_US = calendar.timegm((2023, 1, 1, 0, 0, 0)) * US
END_US = calendar.timegm((2026, 6, 1, 0, 0, 0)) * US
SPAN_US = END_US - START_US

OP_CREATE, OP_UPDATE, OP_IMPORT, OP_MUTATED, OP_NEW = range(5)
OP_NAMES = ("create", "update", "import", "update", "create")

_DATE_RE = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?"
    r"(?:([Zz])|([+-])(\d{2}):(\d{2}))"
)


def parse_date_ns(text: str) -> int:
    """RFC 3339 → integer nanoseconds since the epoch (exact). ValueError if unparsable."""
    m = _DATE_RE.fullmatch(text)
    if not m:
        raise ValueError(f"unparsable date {text!r}")
    y, mo, d, h, mi, s = (int(m.group(i)) for i in range(1, 7))
    if not (
        1 <= mo <= 12 and 1 <= d <= calendar.monthrange(y, mo)[1] and h < 24 and mi < 60 and s < 60
    ):
        raise ValueError(f"date out of range {text!r}")
    frac = m.group(7) or ""
    ns = calendar.timegm((y, mo, d, h, mi, s)) * 1_000_000_000 + int(frac.ljust(9, "0") or 0)
    if m.group(9):
        oh, om = int(m.group(10)), int(m.group(11))
        if oh > 23 or om > 59:
            raise ValueError(f"bad offset {text!r}")
        off = (oh * 60 + om) * 60 * 1_000_000_000
        ns = ns - off if m.group(9) == "+" else ns + off
    return ns


_DAYS: dict[int, str] = {}
_HMS = [f"{h:02d}:{m:02d}:{sec:02d}" for h in range(24) for m in range(60) for sec in range(60)]
_MS = [f".{ms:03d}Z" for ms in range(1000)]


def fmt(us: int, millis: bool) -> str:
    """Integer microseconds → RFC 3339 UTC ('Z'), seconds or milliseconds."""
    secs, frac = divmod(us, US)
    days, rem = divmod(secs, 86400)
    day = _DAYS.get(days)
    if day is None:
        t = time.gmtime(days * 86400)
        day = _DAYS[days] = f"{t.tm_year:04d}-{t.tm_mon:02d}-{t.tm_mday:02d}T"
    if millis:
        return day + _HMS[rem] + _MS[frac // 1000]
    return day + _HMS[rem] + "Z"


_SLUGS: dict[str | None, str] = {}


def _slug(name: str | None) -> str:
    """ASCII e-mail local part from a name ('Ólafur' → 'olafur', '王' → '')."""
    out = _SLUGS.get(name)
    if out is None:
        folded = unicodedata.normalize("NFKD", (name or "user").lower())
        out = _SLUGS[name] = "".join(ch for ch in folded if ch.isascii() and ch.isalnum())
    return out


FIRST = (
    "Ana",
    "José",
    "Zoë",
    "Chloé",
    "Søren",
    "Łukasz",
    "Ólafur",
    "François",
    "Mary",
    "John",
    "Priya",
    "Kwame",
    "Siobhán",
    "Renée",
    "Jörg",
    "محمد",
    "فاطمة",
    "داود",
    "שרה",
    "Αλέξανδρος",
    "Дмитрий",
    "王",
    "李娜",
    "山田",
    "Nguyễn Văn",
    "Aiyana",
    "Björk",
    "Ngozi",
    "Mei",
    "Jean-Luc",
    "María José",
    "Đorđe",
    "İlkay",
    "Tomás",
    "Zoltán",
    "Emily",
    "Michael",
    "Sarah",
    "David",
)
LAST = (
    "Smith",
    "García",
    "Müller",
    "Núñez",
    "O'Brien",
    "Ødegaard",
    "Kowalski",
    "Nakamura",
    "عبد الله",
    "الحسن",
    "כהן",
    "לוי",
    "Παπαδόπουλος",
    "Иванов",
    "张",
    "Nguyễn",
    "Dubois",
    "van der Berg",
    "D'Angelo",
    "Smith-Jones",
    "Okafor",
    "Johnson",
    "Lee",
    "Brown",
    "Çelik",
    "Şahin",
    "Hernández",
    "Williams",
    "Taylor",
    "Martin",
    "Ng",
)
EMOJI = ("🎉", "🌮", "🚀", "❤️", "👩‍💻", "🇺🇸", "🏳️‍🌈", "😀", "🐶", "⭐")
COMPANIES = (
    "Acme Inc.",
    "Café Olé",
    "Zürich Trading AG",
    "株式会社テスト",
    "شركة النور",
    "חברת אור",
    "Smith & Sons",
    "Ünïcödé LLC",
    "Pizza 🍕 Place",
)
TEXTS = (
    "Called back, left voicemail.",
    "Prefers SMS after 6pm ☎️",
    "Wants a quote for Q3",
    "Spoke with José — follow up",
    "Не звонить до понедельника",  # noqa: RUF001
    "يرجى الاتصال لاحقا",
    "Line one\nLine two",
    'Tabs\tand "quotes"',
    "",
)
CUSTOM_VALUES = (
    "Acme",
    "2024-01-02",
    "42",
    "",
    "✅ yes",
    "no",
    "Gold",
    "München",
    "N/A",
    "1,234.50",
    "true",
    "  padded  ",
    "Ελληνικά",
    "line\nbreak",
)
CHANNELS = ("phone", "email", "facebook", "instagram", "whatsapp")
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
FIELD_TITLES = (
    "Company",
    "Birthday",
    "Plan",
    "Región",
    "顧客ID",
    "Lifetime value",
    "Source",
    "Favourite colour",
    "Account manager",
    "Renewal date",
    "Notes 📝",
    "Locale",
    "Loyalty tier",
    "Zip",
    "Preferred language",
)
MEMBER_NAMES = ("Alice Admin", "Bruno Díaz", "Chen Wei", "Dana Levi", "Émile Roy")
ROLES = ("admin", "member", "member", "manager", "member")


class Dataset:
    def __init__(self, contacts: int, seed: int, precision: str) -> None:
        self.seed = seed
        self.millis = precision == "millis"
        self.unit = 1000 if self.millis else US
        self._json: dict[int, tuple[tuple[int, int], bytes]] = {}
        self._build_meta()
        self._build_contacts(contacts)

    # ------------------------------------------------------------------ helpers
    def trunc(self, us: int) -> int:
        return us - us % self.unit

    def fmt(self, us: int) -> str:
        return fmt(us, self.millis)

    # --------------------------------------------------------------- meta data
    def _build_meta(self) -> None:
        r = Random(f"heymarket-meta-{self.seed}")
        self.team_id = 40_000 + r.randrange(10_000)
        member_base = 700_000 + r.randrange(100_000)
        self.members = [
            {"id": member_base + i * 7 + r.randrange(5), "name": MEMBER_NAMES[i], "role": ROLES[i]}
            for i in range(5)
        ]
        self.inboxes = []
        for i in range(3):
            self.inboxes.append(
                {
                    "id": 90_000 + r.randrange(10_000) * 3 + i,
                    "name": ("Main line", "Support ☎️", "Ventas España")[i],
                    "phone": "1" + "".join(str(r.randrange(10)) for _ in range(10)),
                    "team_id": self.team_id,
                    "created": self.fmt(
                        self.trunc(START_US - r.randrange(400 * 86400) * US - r.randrange(US))
                    ),
                }
            )
        # contact fields: 12 live, 3 deleted ids interleaved
        fid = 3_000 + r.randrange(1_000)
        ids = []
        for _ in range(15):
            fid += 1 + r.randrange(9)
            ids.append(fid)
        deleted = set(r.sample(ids, 3))
        titles = list(FIELD_TITLES)
        r.shuffle(titles)
        self.fields = [{"id": f, "title": titles[i]} for i, f in enumerate(ids) if f not in deleted]
        self.field_ids = [f["id"] for f in self.fields]
        self.deleted_field_ids = sorted(deleted)
        self.field_keys = [str(f) for f in self.field_ids]
        self.deleted_field_keys = [str(f) for f in self.deleted_field_ids]
        # tags: 40..48, updated shared in groups of at most 8
        count = 40 + r.randrange(9)
        names = list(TAG_NAMES)
        r.shuffle(names)
        tid = 5_000 + r.randrange(1_000)
        tags: list[dict[str, Any]] = []
        sizes = [8]
        while sum(sizes) < count:
            sizes.append(min(r.choice((1, 1, 1, 1, 2, 2, 3, 5, 8)), count - sum(sizes)))
        for size in sizes:
            upd = self.trunc(START_US + r.randrange(SPAN_US))
            for _ in range(size):
                tid += 1 + r.randrange(4)
                created = self.trunc(START_US + r.randrange(upd - START_US + 1))
                tags.append(
                    {
                        "id": tid,
                        "tag": names[len(tags)],
                        "color": f"#{r.randrange(0x1000000):06X}",
                        "team_id": self.team_id,
                        "_created": created,
                        "_updated": upd,
                        "rev": 1 if created == upd else 2 + r.randrange(9),
                    }
                )
        tags.sort(key=lambda t: (t["_updated"], t["id"]))
        self.tags = tags  # ascending (updated, id)
        self.tag_updated: list[int] = [t["_updated"] for t in tags]
        self.tag_refs = [{"id": t["id"], "name": t["tag"], "color": t["color"]} for t in tags]

    def tag_object(self, t: dict[str, Any]) -> dict[str, Any]:
        return {
            "id": t["id"],
            "tag": t["tag"],
            "color": t["color"],
            "team_id": t["team_id"],
            "created": self.fmt(t["_created"]),
            "updated": self.fmt(t["_updated"]),
            "rev": t["rev"],
        }

    # --------------------------------------------------------------- contacts
    def _build_contacts(self, n: int) -> None:
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

    def __len__(self) -> int:
        return len(self.ids)

    def max_updated(self) -> int | None:
        return self.upd[self.order[-1]] if self.order else None

    def min_updated(self) -> int | None:
        return self.upd[self.order[0]] if self.order else None

    def boundary(self, date_ns: int | None, inclusive: bool) -> int:
        """Number of contacts (from the oldest) that pass the `date` filter."""
        if date_ns is None:
            return len(self.order)
        if inclusive:
            return bisect.bisect_right(self.order, date_ns // 1000, key=self.upd.__getitem__)
        return bisect.bisect_left(self.order, -(-date_ns // 1000), key=self.upd.__getitem__)

    def page(self, date_ns: int | None, inclusive: bool, limit: int, offset: int) -> list[int]:
        hi = self.boundary(date_ns, inclusive)
        start = hi - 1 - offset
        stop = max(start - limit, -1)
        order = self.order
        return [order[j] for j in range(start, stop, -1)] if start >= 0 else []

    def contact(self, idx: int) -> dict[str, Any]:
        # Not cached: a cache of nested dicts makes the cyclic GC's full collections slow
        # (50-100 ms pauses at 1M contacts); the encoded JSON is cached instead.
        static = self._static(idx)
        out = static  # keys already in the documented order
        op = self.ops[idx]
        out["created"] = self.fmt(self.cre[idx])
        out["updated"] = self.fmt(self.upd[idx])
        out["rev"] = self.rev[idx]
        out["op"] = OP_NAMES[op]
        if op == OP_MUTATED:  # the sandbox changed it: visible change tied to the revision
            r = Random(self.seed * 1_000_003 + self.ids[idx] * 131 + self.rev[idx])
            custom = static["custom"]
            custom[str(r.choice(self.field_ids))] = f"rev {self.rev[idx]}"
            out["custom"] = custom
            out["is_opted_out"] = r.random() < 0.1
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

    def _static(self, idx: int) -> dict[str, Any]:
        cid = self.ids[idx]
        r = Random(self.seed * 1_000_003 + cid)
        rnd = r.random
        created_us = self.cre[idx]
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
        fkeys, nvals = self.field_keys, len(CUSTOM_VALUES)
        for _ in range(int(rnd() * 6)):  # repeats just overwrite
            custom[fkeys[int(rnd() * len(fkeys))]] = CUSTOM_VALUES[int(rnd() * nvals)]
        if rnd() < 0.15:  # keys of fields deleted since
            dkeys = self.deleted_field_keys
            for _ in range(1 + int(rnd() * 2)):
                custom[dkeys[int(rnd() * len(dkeys))]] = CUSTOM_VALUES[int(rnd() * nvals)]
        members = self.members
        creator = members[int(rnd() * 5)]["id"]
        assigned = None if rnd() < 0.3 else members[int(rnd() * 5)]["id"]
        inbox = self.inboxes[int(rnd() * 3)]
        parent = None if rnd() < 0.85 else max(1_000_000, cid - 1 - int(rnd() * 5000))
        ntags = (0, 0, 0, 1, 1, 1, 2, 2, 3, 4, 5)[int(rnd() * 11)]
        refs = self.tag_refs
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
        span = max(self.upd[idx] - created_us, 0)
        notes = []
        for _ in range((0, 0, 0, 0, 1, 1, 2, 3)[int(rnd() * 8)]):
            m = members[int(rnd() * 5)]
            notes.append(
                {
                    "date": self.fmt(self.trunc(created_us + int(rnd() * span))),
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
            c_created = self.trunc(created_us + int(rnd() * span))
            chan_pk = 1_000_000 + int(rnd() * 9_000_000)
            channels.append(
                {
                    "id": str(chan_pk) if rnd() < 0.2 else chan_pk,
                    "team_id": str(self.team_id) if rnd() < 0.1 else self.team_id,
                    "contact_id": str(cid) if rnd() < 0.3 else cid,
                    "channel_type": kind,
                    "channel_id": chan_id,
                    "channel_handle": handle,
                    "info_channel": (None, inbox["phone"], kind, "")[int(rnd() * 4)],
                    "created": self.fmt(c_created),
                    "updated": self.fmt(self.trunc(c_created + int(rnd() * (span + 1)))),
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
            "team_id": self.team_id,
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
        return out

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
        last = self.max_updated()
        last = START_US - self.unit if last is None else last
        stamp = None
        updated_ids, created_ids = [], []

        def fresh() -> int:
            nonlocal stamp
            now = self.trunc(time.time_ns() // 1000)
            if stamp is None or self.millis:
                stamp = max(now, (stamp if stamp is not None else last) + self.unit)
            return stamp

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
            cid = (self.ids[-1] if idx else 1_000_000) + 1 + r.randrange(5)
            self.ids.append(cid)
            self.upd.append(t)
            self.cre.append(t)
            self.rev.append(1)
            self.ops.append(OP_NEW)
            self.order.append(idx)
            created_ids.append(cid)
        return updated_ids, created_ids

    # --------------------------------------------------------------- truth
    def truth(self, with_updated: bool) -> dict[str, Any]:
        ids, rev, upd = self.ids, self.rev, self.upd
        out: dict[str, Any] = {
            "contacts": {str(ids[i]): rev[i] for i in range(len(ids))},
            "count": len(ids),
            "max_updated": None if not ids else self.fmt(self.max_updated() or 0),
            "min_updated": None if not ids else self.fmt(self.min_updated() or 0),
        }
        if with_updated:
            out["updated"] = {str(ids[i]): self.fmt(upd[i]) for i in range(len(ids))}
        out["tags"] = {str(t["id"]): t["rev"] for t in self.tags}
        out["tag_count"] = len(self.tags)
        out["contact_fields"] = list(self.field_ids)
        out["contact_field_count"] = len(self.field_ids)
        out["deleted_contact_fields"] = list(self.deleted_field_ids)
        groups: list[dict[str, Any]] = []
        key = upd.__getitem__
        for t in set(self.tie_group_times):
            size = bisect.bisect_right(self.order, t, key=key) - bisect.bisect_left(
                self.order, t, key=key
            )
            groups.append({"updated": self.fmt(t), "size": size})
        groups.sort(key=lambda g: (-int(g["size"]), str(g["updated"])))
        out["tie_groups"] = groups
        counts = Counter(upd)
        out["max_tie_size"] = max(counts.values()) if counts else 0
        return out
