"""The `shapes` switch: every field in its other plausible types (docs/sandbox.md, "Shapes").

The API's docs are thin on types: a boolean may come as `0`/`1`, an id as a digit string, an
unset id as `0`, `media` as a list, a list as an object keyed by index... Each such
representation is one case of SHAPE_CASES. With `shapes` naming some (or `all`), the server
decodes the 200 answer of every endpoint that returns records (RESOURCES), re-shapes it with
`apply` and encodes it again; with `shapes` off nothing here runs.

Rules every case keeps:

* the meaning of a value never changes: a number keeps its value, a timestamp its instant
  (to the microsecond), a list its items and their order; only the JSON type or text form
  changes. Which records an answer holds, and its top-level array (or object), never change;
* each case applies to a deterministic mix of records, about half: a record is picked by a
  generator seeded from (seed, resource, record id, case), so a record keeps its shape from
  page to page and from run to run; `GET /v1/team` is one record (always shaped) whose
  `members` are records of their own (mixed);
* a value is shaped from its ORIGINAL type, by at most one case: cases compose (a record may
  get several) but never undo each other (`strings_as_numbers` never sees a digit string
  that `id_strings` made, `number_strings` never sees an integer `bool_ints` made);
* contacts' `custom` map is user data: no case touches it.

Request bodies: with `id_strings` on, `request_id` lets the handlers read an id sent as a
digit string (a client may send back an id as it got it).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from random import Random
from typing import Any

from .timefmt import parse_date_ns

#: Every case, in the order they are documented (docs/sandbox.md, "Shapes").
SHAPE_CASES: tuple[str, ...] = (
    "media_list",
    "bool_ints",
    "id_strings",
    "zero_values",
    "time_forms",
    "number_strings",
    "object_for_list",
    "strings_as_numbers",
)
#: The value of `shapes` that turns every case on.
ALL = "all"

#: Path of each endpoint whose 200 answer holds records -> its resource.
RESOURCES: dict[str, str] = {
    "/v1/contacts": "contacts",
    "/v2/contacts/list": "contacts",  # shaped like v1 once the sandbox serves it
    "/v1/contact-fields": "contact_fields",
    "/v1/tags": "tags",
    "/v1/inboxes": "inboxes",
    "/v1/team": "team",
    "/v1/templates": "templates",
    "/v1/surveys": "surveys",
    "/v1/messages/all": "messages",
    "/v1/conversations": "conversations",
    "/v1/contact/status": "contact_status",
}

#: Reference fields that hold an id without a `_id` suffix (`id_strings`, `zero_values`).
REFERENCE_KEYS = frozenset({"user", "inbox", "assigned", "creator", "team"})
#: Keys ending in `_id` that hold strings, not ids.
STRING_ID_KEYS = frozenset({"external_id", "local_id", "channel_id"})
#: String fields that may be null (`zero_values` serves them as "").
NULLABLE_STRINGS = frozenset(
    {
        "display_name",
        "first",
        "last",
        "email",
        "avatar",
        "external_id",
        "external_ref",
        "type",
        "author",
        "link_url",
        "forward_number",
        "info_channel",
        "last_inbound",
        "snooze_till",
    }
)
#: Never zeroed, even if null: the primary key and the cursor fields.
NEVER_ZERO = frozenset({"id", "updated", "date"})
#: List fields `object_for_list` serves as {"0": item0, ...}, by dotted path in the record.
#: Not the structural lists: team `members` (the team_members rows), inboxes' `members`.
OBJECT_LISTS: dict[str, frozenset[str]] = {
    "contacts": frozenset({"tags", "note", "contact_channels"}),
    "messages": frozenset({"target_errors", "targets"}),
    "templates": frozenset({"content.gallery"}),
    "inboxes": frozenset({"phones", "allowed_domains"}),
    "conversations": frozenset({"members"}),
}
#: Fields no case touches, by dotted path in the record.
OPAQUE: dict[str, frozenset[str]] = {"contacts": frozenset({"custom"})}

#: The `time_forms` forms, one per record: the same instant written another way.
TIME_FORMS: tuple[str, ...] = ("padded", "naive", "offset", "trimmed")
_TIMESTAMP = re.compile(
    r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.(?P<frac>\d{1,6}))?(?:Z|[+-]\d\d:\d\d)"
)
_DIGITS = re.compile(r"[1-9][0-9]{0,14}")  # no leading zero, <= 15 digits: lossless
_ID_DIGITS = re.compile(r"[0-9]+")
_EPOCH = datetime(1970, 1, 1)  # naive: every instant here is UTC
_OFFSET = timedelta(hours=2)


def parse_cases(value: str) -> tuple[str, ...]:
    """The cases a `shapes` value turns on, in SHAPE_CASES order: a comma-separated list of
    case names, `all`, or ''/`off`/`none` (no case). ValueError for an unknown name."""
    names = [name.strip() for name in value.split(",") if name.strip()]
    if names in (["off"], ["none"]):
        return ()
    unknown = [name for name in names if name != ALL and name not in SHAPE_CASES]
    if unknown:
        listed = ", ".join(repr(name) for name in unknown)
        raise ValueError(
            f"shapes: unknown case {listed}; valid: a comma-separated list of "
            f"{', '.join(SHAPE_CASES)}, or {ALL}"
        )
    if ALL in names:
        return SHAPE_CASES
    return tuple(case for case in SHAPE_CASES if case in names)


def normalize(value: str) -> str:
    """The canonical `shapes` value: '' (off), `all`, or the cases in SHAPE_CASES order."""
    cases = parse_cases(value)
    if ALL in (name.strip() for name in value.split(",")):
        return ALL
    return ",".join(cases)


def request_id(value: Any, config: Mapping[str, Any]) -> Any:
    """An id read from a request body: a digit string as its integer when `id_strings` is
    on (a client may send back an id as it got it); anything else as it is, for the
    handler's own checks."""
    if (
        isinstance(value, str)
        and config.get("shapes")
        and _ID_DIGITS.fullmatch(value)
        and "id_strings" in parse_cases(config["shapes"])
    ):
        return int(value)
    return value


def time_form(text: str, form: str) -> str:
    """`text` (an RFC 3339 timestamp) as the same instant in another form of TIME_FORMS:

    * `padded`: the fraction padded to 6 digits, `+00:00` (`…56.789000+00:00`);
    * `naive`: no zone at all, meaning UTC (`…56.789`);
    * `offset`: the local time at `+02:00` (`…T14:34:56.789+02:00` for `…T12:34:56.789Z`);
    * `trimmed`: trailing zeros of the fraction trimmed, the fraction omitted when it is
      zero (`…56.78Z`, `…56Z`).

    Anything else (not a timestamp, or finer than microseconds) is returned as it is.
    """
    match = _TIMESTAMP.fullmatch(text)
    if match is None:
        return text
    try:
        us = parse_date_ns(text) // 1000
    except ValueError:
        return text
    frac = match.group("frac") or ""
    dot = f".{frac}" if frac else ""
    when = _EPOCH + timedelta(microseconds=us)
    if form == "padded":
        return f"{_wall(when)}.{us % 1_000_000:06d}+00:00"
    if form == "naive":
        return _wall(when) + dot
    if form == "offset":
        return f"{_wall(when + _OFFSET)}{dot}+02:00"
    trimmed = frac.rstrip("0")
    return _wall(when) + (f".{trimmed}" if trimmed else "") + "Z"


def _wall(when: datetime) -> str:
    return (
        f"{when.year:04d}-{when.month:02d}-{when.day:02d}"
        f"T{when.hour:02d}:{when.minute:02d}:{when.second:02d}"
    )


def _id_key(key: str) -> bool:
    """Whether `key` holds an id (or a reference to one)."""
    if key == "id" or key in REFERENCE_KEYS:
        return True
    return key.endswith("_id") and key not in STRING_ID_KEYS


@dataclass(frozen=True)
class _Pick:
    """The cases one record gets, and its `time_forms` form."""

    cases: frozenset[str]
    form: str


class _Shaper:
    def __init__(self, resource: str, cases: tuple[str, ...], seed: int) -> None:
        self.resource = resource
        self.cases = cases
        self.seed = seed
        self.lists = OBJECT_LISTS.get(resource, frozenset())
        self.opaque = OPAQUE.get(resource, frozenset())

    def pick(self, rid: Any, always: bool = False) -> _Pick:
        chosen, form = set(), TIME_FORMS[0]
        for case in self.cases:
            r = Random(f"heymarket-shapes-{self.seed}-{self.resource}-{rid!r}-{case}")
            if always or r.random() < 0.5:
                chosen.add(case)
                if case == "time_forms":
                    form = TIME_FORMS[r.randrange(len(TIME_FORMS))]
        return _Pick(frozenset(chosen), form)

    def answer(self, doc: Any) -> Any:
        if isinstance(doc, list):
            return [self.record(item, pos) for pos, item in enumerate(doc)]
        if isinstance(doc, dict) and self.resource == "team":
            # One record, always shaped; its members are records of their own.
            pick = self.pick(doc.get("id"), always=True)
            return {
                key: (
                    [self.record(m, pos) for pos, m in enumerate(value)]
                    if key == "members" and isinstance(value, list)
                    else self.value(key, value, pick, key)
                )
                for key, value in doc.items()
            }
        if isinstance(doc, dict):
            return self.record(doc, 0)
        return doc

    def record(self, rec: Any, pos: int) -> Any:
        if not isinstance(rec, dict):
            return rec
        pick = self.pick(rec.get("id", f"#{pos}"))
        if not pick.cases:
            return rec
        return {key: self.value(key, value, pick, key) for key, value in rec.items()}

    def value(self, key: str, v: Any, pick: _Pick, path: str, item: bool = False) -> Any:
        """`v`, found under `key` (for a list item: the list's key) at `path`, shaped."""
        cases = pick.cases
        if path in self.opaque:
            return v
        if isinstance(v, dict):
            return {k: self.value(k, x, pick, f"{path}.{k}") for k, x in v.items()}
        if isinstance(v, list):
            items = [self.value(key, x, pick, path, item=True) for x in v]
            if "object_for_list" in cases and path in self.lists:
                return {str(i): x for i, x in enumerate(items)}
            return items
        if isinstance(v, bool):
            return int(v) if "bool_ints" in cases else v
        if isinstance(v, int):
            if _id_key(key) or (item and key == "members"):
                return str(v) if "id_strings" in cases else v
            return str(v) if "number_strings" in cases else v
        if isinstance(v, float):
            return json.dumps(v) if "number_strings" in cases else v
        if v is None:
            if "zero_values" not in cases or item or key in NEVER_ZERO:
                return v
            if key in NULLABLE_STRINGS:
                return ""
            return 0 if _id_key(key) else v
        if isinstance(v, str):
            if "media_list" in cases and self.resource == "messages" and path == "media":
                return [v] if v else []
            if "time_forms" in cases and _TIMESTAMP.fullmatch(v):
                return time_form(v, pick.form)
            if "strings_as_numbers" in cases and _DIGITS.fullmatch(v):
                return int(v)
        return v


def apply(body: bytes, route: str, shapes: str, seed: int) -> bytes:
    """The 200 answer `body` of `route` re-shaped per the `shapes` switch (a valid value);
    `body` itself when the route returns no records or no case is on."""
    resource = RESOURCES.get(route)
    cases = parse_cases(shapes)
    if resource is None or not cases:
        return body
    doc = _Shaper(resource, cases, seed).answer(json.loads(body))
    return json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode()
