"""Readable columns for custom fields: the naming rule, and how the catalog carries it.

`contacts.custom` is keyed by field id. When discovery can read the team's fields
(`POST /v1/contact-fields`, credentials configured), `contacts` also gets one nullable
string column per field, named from the field's title:

* `cf_` + the title folded to lowercase ASCII (NFKD, accents and other marks dropped,
  `ß` -> `ss`), every run of other characters -> `_`, no leading or trailing `_`,
  cut so that the whole name has at most 63 characters (PostgreSQL's limit; the
  tightest of the usual warehouses). `Loyalty tier` -> `cf_loyalty_tier`,
  `Región` -> `cf_region`, `顧客ID` -> `cf_id`.
* a title with nothing left (empty, emoji or CJK only) -> `cf_<field id>`.
* collisions (`Birthday` and `birthday `): fields are named in ascending id order, and
  a field whose name is taken (by an older field, or by a built-in column) gets
  `_<field id>` appended (`cf_birthday_3017`), then `_2`, `_3`... until unique.

The prefix keeps every name off the built-in columns, off SQL keywords, and starting
with a letter; names are `[a-z][a-z0-9_]*`, so they need no quoting in DuckDB,
PostgreSQL, Snowflake or BigQuery, and SDK targets keep them as they are. The same
fields always give the same names, whatever order the API lists them in; a new field
(a higher id) never renames an existing column.

A column's JSON schema carries the field id in its `description` (the SDK's catalog
keeps only standard JSON Schema keywords), and its title at discovery in `title`:

    "cf_loyalty_tier": {"type": ["string", "null"], "title": "Loyalty tier",
                        "description": "Custom field \"3012\": ..."}

A sync fills each such column from `custom[<id>]`, so the catalog in use decides what
is emitted, and a renamed field keeps feeding its column until the next discovery.
"""

from __future__ import annotations

import hashlib
import json
import re
import typing as t
import unicodedata
from collections.abc import Iterable, Mapping

#: Every custom-field column starts with this.
PREFIX = "cf_"
#: PostgreSQL truncates identifiers longer than 63 bytes (NAMEDATALEN - 1); MySQL allows
#: 64, Snowflake 255, BigQuery 300. Names are ASCII, so characters are bytes.
MAX_NAME_LENGTH = 63
#: The longest id suffix: ids are integers, far shorter than this.
_MAX_TOKEN = 24
#: The one type of every column, so a column never changes type between runs.
COLUMN_TYPE: tuple[str, ...] = ("string", "null")

_NON_ALNUM = re.compile(r"[^a-z0-9]+")
#: `Custom field "<key>": ...`, the key as a JSON string.
_DESCRIPTION = re.compile(r'^Custom field ("(?:[^"\\]|\\.)*")')


def slug(text: str | None) -> str:
    """`text` folded to lowercase ASCII letters and digits joined by single `_`."""
    folded = unicodedata.normalize("NFKD", (text or "").casefold())
    ascii_only = "".join(ch for ch in folded if ch.isascii()).lower()
    return _NON_ALNUM.sub("_", ascii_only).strip("_")


def _token(key: str) -> str:
    """The field id as a name part: its slug, or a short hash for a key with none."""
    token = slug(key)
    if token and len(token) <= _MAX_TOKEN:
        return token
    return "k" + hashlib.sha256(key.encode()).hexdigest()[:12]


def _name(stem: str, suffix: str = "") -> str:
    """`cf_<stem><suffix>`, the stem cut so that the name fits MAX_NAME_LENGTH."""
    room = MAX_NAME_LENGTH - len(PREFIX) - len(suffix)
    stem = stem[:room].rstrip("_")
    return PREFIX + (stem + suffix if stem else suffix.lstrip("_"))


def id_order(key: str) -> tuple[int, int, str]:
    """Numeric ids ascending (oldest first), then any other key."""
    return (0, int(key), key) if key.isascii() and key.isdigit() else (1, 0, key)


def column_names(
    fields: Iterable[tuple[str, str | None]], reserved: Iterable[str] = ()
) -> dict[str, str]:
    """{field key: column name} for the team's `(field key, title)` pairs.

    `reserved` are names that are never given (the stream's built-in columns). A key
    listed twice keeps its first title.
    """
    titles: dict[str, str | None] = {}
    for key, title in fields:
        titles.setdefault(str(key), title)
    taken = set(reserved)
    names: dict[str, str] = {}
    for key in sorted(titles, key=id_order):
        stem = slug(titles[key])
        name = _name(stem) if stem else _name(_token(key))
        attempt = 1
        while name in taken:
            suffix = "_" + _token(key) + (f"_{attempt}" if attempt > 1 else "")
            name = _name(stem, suffix) if stem else _name(_token(key), suffix)
            attempt += 1
        taken.add(name)
        names[key] = name
    return names


def column_schema(key: str, title: str | None) -> dict[str, t.Any]:
    """The JSON schema of one custom-field column (the field id is in `description`)."""
    shown = json.dumps(title or "", ensure_ascii=False)
    return {
        "type": list(COLUMN_TYPE),
        "title": title or "",
        "description": (
            f"Custom field {json.dumps(key)}: the value of custom[{json.dumps(key)}] as text;"
            " null when the contact holds none or the field no longer exists. Named from the"
            f" title {shown} at discovery. The tap reads the field id from this description."
        ),
    }


def field_key(prop: Mapping[str, t.Any]) -> str | None:
    """The field id a column's schema names, or None for any other property."""
    description = prop.get("description")
    if not isinstance(description, str):
        return None
    match = _DESCRIPTION.match(description)
    if match is None:
        return None
    key = json.loads(match.group(1))
    return key if isinstance(key, str) else None


def schema_with_columns(
    schema: Mapping[str, t.Any], fields: Iterable[Mapping[str, t.Any]]
) -> dict[str, t.Any]:
    """`schema` plus one column per field (`{id, title}` objects), sorted by name."""
    properties = dict(schema.get("properties", {}))
    pairs = [(str(f["id"]), f.get("title")) for f in fields if f.get("id") is not None]
    titles = dict(reversed(pairs))  # the first title of a repeated id, as column_names
    names = column_names(pairs, reserved=properties)
    for key, name in sorted(names.items(), key=lambda kv: kv[1]):
        title = titles[key]
        properties[name] = column_schema(key, title if isinstance(title, str) else None)
    return {**schema, "properties": properties}


def columns_in(schema: Mapping[str, t.Any]) -> dict[str, str]:
    """{column name: field key} of the custom-field columns of `schema` (a catalog's)."""
    out = {}
    for name, prop in (schema.get("properties") or {}).items():
        key = field_key(prop) if isinstance(prop, Mapping) else None
        if key is not None:
            out[name] = key
    return out


def as_text(value: t.Any) -> str | None:
    """A custom value as the columns' one type: strings as sent, other JSON as JSON text."""
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
