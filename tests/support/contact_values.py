"""Custom-field values as the sandbox holds them and as an upserting target would
(tests/tap/test_contact_fields.py, tests/unit/test_contact_fields.py,
tests/tap/test_contact_status.py)."""

from __future__ import annotations

import copy
from typing import Any

from tap_heymarket.fitting import scrub_any

#: (contact id, field key) -> value.
Table = dict[tuple[int, str], Any]


def select(catalog: dict[str, Any], *streams: str) -> dict[str, Any]:
    """A copy of `catalog` with exactly `streams` selected."""
    out = copy.deepcopy(catalog)
    for stream in out["streams"]:
        for entry in stream["metadata"]:
            if entry["breadcrumb"] == []:
                entry["metadata"]["selected"] = stream["tap_stream_id"] in streams
    return out


def upsert(table: Table, rows: list[dict[str, Any]]) -> Table:
    """What an upserting warehouse does with the rows: the last row per primary key wins."""
    for row in rows:
        table[(row["contact_id"], row["field_id"])] = row["value"]
    return table


def held(table: Table) -> Table:
    """The values the table holds (a null row is a value no longer held)."""
    return {k: v for k, v in table.items() if v is not None}


def truth_values(truth: dict[str, Any]) -> Table:
    """The truth's values as the tap emits them: U+0000 replaced (replace_nul_characters)."""
    return {
        (int(c), key): scrub_any(value)
        for c, custom in truth["custom"].items()
        for key, value in custom.items()
    }


def stream_schema(catalog: dict[str, Any], name: str) -> dict[str, Any]:
    """The JSON Schema of stream `name` in `catalog`."""
    (entry,) = [s for s in catalog["streams"] if s["tap_stream_id"] == name]
    return dict(entry["schema"])
