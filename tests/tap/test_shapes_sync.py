"""Every stream, with the sandbox serving each field in its other plausible types.

`shapes` (heymarket_sandbox/shapes.py) turns each case on: ids as digit strings, booleans as
0/1, `media` as a list, zero values for unset ids and strings, timestamps in other forms,
numbers as strings, objects for lists, digit strings as numbers. For each case alone and
for all at once, a full sync of every stream must equal the sandbox's truth, every record
must validate against the SCHEMA message the tap sent (a JSON Schema validator, every
record), no U+0000 may leave the tap, and a second run from the first run's STATE must
read nothing new: the coerced `id`, `rev` and `updated` still match the bookmark.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from heymarket_sandbox import SHAPE_CASES, Sandbox
from tap_heymarket import timestamps
from tests.support.singer_check import check_messages
from tests.support.tap_runner import (
    STREAMS,
    assert_streams_match_truth,
    run_tap,
    sandbox_config,
)

CATALOG_FILE = "catalog/catalog.json"


def _every_stream_selected() -> dict[str, Any]:
    from tests.support.tap_runner import REPO_ROOT

    catalog = json.loads((REPO_ROOT / CATALOG_FILE).read_text())
    for stream in catalog["streams"]:
        for entry in stream["metadata"]:
            if entry["breadcrumb"] == []:
                entry["metadata"]["selected"] = stream["tap_stream_id"] != "delete_sweeps"
    return dict(catalog)


CATALOG = _every_stream_selected()


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    with Sandbox(contacts=400, seed=5, messages=500, conversations=80, templates=40) as sb:
        yield sb


@pytest.fixture(scope="module")
def plain(sandbox: Sandbox) -> dict[str, dict[Any, dict[str, Any]]]:
    """Every record of a run with shapes off, by stream and key."""
    config = sandbox_config(sandbox.url, page_size=100, read_contact_status=True)
    run = run_tap(config, catalog=CATALOG)
    assert run.returncode == 0, run.stderr[-2000:]
    return {stream: {_key(r): r for r in rows} for stream, rows in run.records.items()}


def _meaning(value: Any) -> Any:
    """`value` with every timestamp text as its instant: the nested ones that the schema
    types as plain strings (`note[].date`, `contact_channels[].created`) are kept as sent."""
    if isinstance(value, dict):
        return {k: _meaning(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_meaning(v) for v in value]
    if isinstance(value, str) and len(value) >= 19 and value[4:5] == "-" and value[10:11] == "T":
        try:
            return timestamps.parse(value)
        except ValueError:
            return value
    return value


def _key(record: dict[str, Any]) -> Any:
    return record.get("id", (record.get("contact_id"), record.get("field_id")))


#: Columns whose schema leaves the inside open (any JSON): the API's values as sent.
OPEN_COLUMNS = {
    "extra_fields",
    "conversation",
    "raw_error",
    "widget_settings",
    "targets",
    "target_errors",
}
#: Cases whose values legitimately differ from the plain run's: `0`/`""` for an unset value
#: (`zero_values`), the media list in its own column (`media_list`).
DIFFERENT = {"zero_values", "media_list", "all"}


def _seen(records: dict[str, list[dict[str, Any]]]) -> dict[str, dict[int, Any]]:
    return {
        stream: {r["id"]: r.get("rev", r.get("updated")) for r in rows}
        for stream, rows in records.items()
        if stream in STREAMS
    }


def _has_nul(value: Any) -> bool:
    return "\\u0000" in json.dumps(value)


@pytest.mark.parametrize("case", [*SHAPE_CASES, "all"])
def test_every_stream_loads_in_every_shape(
    sandbox: Sandbox, plain: dict[str, dict[Any, dict[str, Any]]], case: str
) -> None:
    sandbox.configure(shapes=case)
    try:
        truth = sandbox.truth(custom=True, status=True)
        config = sandbox_config(sandbox.url, page_size=100, read_contact_status=True)
        run = run_tap(config, catalog=CATALOG)
        assert run.returncode == 0, run.stderr[-2000:]
        counts = check_messages(run.messages)  # every record against its SCHEMA message
        records = run.records
        assert_streams_match_truth(_seen(records), truth)
        assert counts["contact_status"] == truth["streams"]["contact_status"]["count"]
        for row in records["contact_status"]:
            want = truth["statuses"][str(row["id"])]
            assert row["phone"] == want["phone"], row
            for flag in ("unsubscribed", "blocked", "unsubscribed_admin", "locked"):
                assert row[flag] == want.get(flag), (row, want)
        values = truth["streams"]["contact_field_values"]["count"]
        assert counts["contact_field_values"] == values
        assert not any(_has_nul(m) for m in run.messages if m.get("type") == "RECORD")
        assert "Traceback" not in run.stderr
        # Every shape the sandbox serves is one a column takes in (coerced, or its alternate).
        assert " came as " not in run.stderr, [
            line for line in run.stderr.splitlines() if " came as " in line
        ][:3]
        if case not in DIFFERENT:
            # Coerced back to exactly what the plain run emitted, column by column.
            for stream, rows in records.items():
                for row in rows:
                    want = plain[stream][_key(row)]
                    for column, value in row.items():
                        if column not in OPEN_COLUMNS:
                            assert _meaning(value) == _meaning(want[column]), (
                                stream,
                                _key(row),
                                column,
                            )
                            assert type(value) is type(want[column]), (stream, column)

        # Every value of a shape the schema declares is taken in; what does not fit is kept.
        messages = records["messages"]
        assert all(isinstance(m["super"], bool) or m["super"] is None for m in messages)
        if case in ("media_list", "all"):
            assert any(m["media_list"] for m in messages if m.get("media_list") is not None)
            assert all(m["media"] is None for m in messages if m.get("media_list") is not None)

        again = run_tap(config, catalog=CATALOG, state=run.final_state)
        assert again.returncode == 0, again.stderr[-2000:]
        rerun = again.records
        for stream in ("contacts", "tags", "templates"):
            assert len(rerun.get(stream, [])) <= 1, (stream, len(rerun.get(stream, [])))
    finally:
        sandbox.configure(shapes="")
