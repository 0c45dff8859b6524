"""Custom fields: the contact_field_values stream and contacts' `cf_` columns, against the
sandbox's truth (every contact's `custom` map, `truth(custom=True)`).

The committed catalog's columns are checked in process by tests/unit/test_contact_fields.py.
"""

from __future__ import annotations

import json
import subprocess
from typing import Any

import requests

from heymarket_dev.generated import CATALOG
from heymarket_dev.meltano import clean_env
from heymarket_sandbox import Sandbox
from tap_heymarket.field_columns import column_schema, columns_in
from tap_heymarket.fitting import scrub_any
from tests.support.contact_values import held, select, stream_schema, truth_values, upsert
from tests.support.tap_runner import REPO_ROOT, TAP, run_tap, sandbox_config, write_json


def discover(config: dict[str, Any]) -> dict[str, Any]:
    """`tap-heymarket --config ... --discover`, as Meltano runs it."""
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as tmp:
        path = write_json(config, Path(tmp), "config.json")
        proc = subprocess.run(
            [*TAP, "--config", str(path), "--discover"],
            capture_output=True,
            text=True,
            cwd=REPO_ROOT,
            env=clean_env(),
            timeout=300,
            check=True,
        )
    return dict(json.loads(proc.stdout))


def test_values_equal_truth_then_follow_changes_and_clears() -> None:
    with Sandbox(contacts=600, seed=31) as sb:
        config = sandbox_config(sb.url, page_size=100)
        full = run_tap(config)
        assert full.returncode == 0, full.stderr[-3000:]
        first = sb.truth(custom=True)
        changed = sb.mutate(n=80, new=5)
        incremental = run_tap(config, state=full.final_state)
        assert incremental.returncode == 0, incremental.stderr[-3000:]
        second = sb.truth(custom=True)
        requests_made = sb.stats()["requests"]
    assert "WARNING" not in full.stderr + incremental.stderr

    rows = full.records["contact_field_values"]
    table = upsert({}, rows)
    assert len(table) == len(rows), "one row per (contact_id, field_id)"
    assert held(table) == truth_values(first)
    # A first run (no state) emits exactly the values held: no null rows.
    assert len(rows) == first["streams"]["contact_field_values"]["count"]
    # Keys of fields deleted since are kept.
    deleted = {str(i) for i in first["deleted_contact_fields"]}
    assert any(key in deleted for _, key in table)
    contacts_updated = {r["id"]: r["updated"] for r in full.records["contacts"]}
    assert all(r["updated"] == contacts_updated[r["contact_id"]] for r in rows)
    # One SCHEMA message per stream, though the stream is synced once per contacts answer.
    schemas = [m for m in full.messages if m["type"] == "SCHEMA"]
    assert sum(m["stream"] == "contact_field_values" for m in schemas) == 1

    # The incremental run: rows only for the contacts that changed, and every value that
    # was cleared comes as a null row, so the upserted table equals the new truth.
    emitted = incremental.records["contact_field_values"]
    expected_ids = set(changed["updated_ids"]) | set(changed["created_ids"])
    assert {r["contact_id"] for r in emitted} == expected_ids
    upsert(table, emitted)
    assert held(table) == truth_values(second)
    cleared = truth_values(first).keys() - truth_values(second).keys()
    assert len(cleared) >= 10, "the sandbox's mutations clear values"
    assert all(table[key] is None for key in cleared)
    # Bounded: a contact's rows are its keys plus the keys known from earlier runs.
    known = incremental.final_state["bookmarks"]["contact_field_values"]["field_keys"]
    assert set(known) == {key for _, key in truth_values(first)} | {
        key for _, key in truth_values(second)
    }
    assert len(emitted) <= len(expected_ids) * len(known)
    assert requests_made > 0


def test_values_cost_nothing_when_not_selected() -> None:
    catalog = json.loads(CATALOG.read_text())
    with Sandbox(contacts=300, seed=34) as sb:
        run = run_tap(sandbox_config(sb.url), catalog=select(catalog, "contacts"))
        paths = set(sb.stats()["by_path"])
    assert run.returncode == 0, run.stderr[-3000:]
    assert set(run.records) == {"contacts"}
    assert [m["stream"] for m in run.messages if m["type"] == "SCHEMA"] == ["contacts"]
    state = run.final_state or {}
    assert set(state["bookmarks"]) == {"contacts"}
    assert state["bookmarks"]["contacts"]["selected_at_bookmark"] == ["contacts"]
    assert paths == {"/v1/contacts"}


def test_values_without_contacts_then_contacts_added() -> None:
    """The SDK syncs a parent for a selected child: the walk runs, no contact is emitted,
    and the bookmark records that it fed only the values. Selecting contacts later makes
    the next run read every contact, so the contacts table starts complete."""
    catalog = json.loads(CATALOG.read_text())
    with Sandbox(contacts=300, seed=35) as sb:
        config = sandbox_config(sb.url)
        values_only = run_tap(config, catalog=select(catalog, "contact_field_values"))
        truth = sb.truth(custom=True)
        both = select(catalog, "contacts", "contact_field_values")
        added = run_tap(config, catalog=both, state=values_only.final_state)
        again = run_tap(config, catalog=both, state=added.final_state)
    assert values_only.returncode == 0, values_only.stderr[-3000:]
    assert set(values_only.records) == {"contact_field_values"}
    assert not [m for m in values_only.messages if m.get("stream") == "contacts"]
    assert held(upsert({}, values_only.records["contact_field_values"])) == truth_values(truth)
    bookmark = values_only.final_state["bookmarks"]["contacts"]
    assert bookmark["replication_key_value"]
    assert bookmark["selected_at_bookmark"] == ["contact_field_values"]

    assert added.returncode == 0, added.stderr[-3000:]
    assert "contacts was not selected when the bookmark was set" in added.stderr
    assert sorted(added.ids()) == sorted(int(i) for i in truth["contacts"])
    assert added.final_state["bookmarks"]["contacts"]["selected_at_bookmark"] == [
        "contact_field_values",
        "contacts",
    ]
    assert again.returncode == 0 and again.ids() == []  # incremental again


def test_custom_columns_from_discovery() -> None:
    with Sandbox(contacts=300, seed=32) as sb:
        config = sandbox_config(sb.url)
        catalog = discover(config)
        fields = requests.post(
            sb.url + "/v1/contact-fields", json={}, headers=sb.auth_headers(), timeout=30
        ).json()
        truth = sb.truth(custom=True)
        schema = stream_schema(catalog, "contacts")
        columns = columns_in(schema)
        # A column for a field deleted since discovery: contacts still hold its key.
        gone = str(truth["deleted_contact_fields"][0])
        schema["properties"]["cf_gone"] = column_schema(gone, "Gone")
        for entry in catalog["streams"]:
            if entry["tap_stream_id"] == "contacts":
                entry["schema"] = schema
        chosen = select(catalog, "contacts")
        run = run_tap(config, catalog=chosen)
        renamed = sb.mutate(n=0, new=0, fields=1)["field_ids"]
        after_rename = run_tap(config, catalog=chosen)
        rediscovered = columns_in(stream_schema(discover(config), "contacts"))
        truth_after = sb.truth(custom=True)

    # One column per field, named by the rule, every one a nullable string.
    key_of = {f["title"]: str(f["id"]) for f in fields}
    birthdays = sorted((int(key_of["Birthday"]), int(key_of["birthday "])))
    # Discovery made no column for the field deleted before it (the run adds `cf_gone`).
    assert gone not in columns.values(), f"a column for deleted field {gone}: {columns}"
    assert columns == {
        "cf_loyalty_tier": key_of["Loyalty tier"],
        "cf_birthday": str(birthdays[0]),
        f"cf_birthday_{birthdays[1]}": str(birthdays[1]),
        f"cf_{key_of['']}": key_of[""],
        f"cf_{key_of['🎂']}": key_of["🎂"],
        "cf_email": key_of["Email"],
        "cf_region": key_of["Región"],
        "cf_id": key_of["顧客ID"],
        "cf_notes": key_of["Notes 📝"],
        "cf_company": key_of["Company"],
        "cf_plan": key_of["Plan"],
        "cf_lifetime_value": key_of["Lifetime value ($)"],
    }
    for name in columns:
        assert schema["properties"][name]["type"] == ["string", "null"]
    assert schema["properties"]["email"]["type"] == ["string", "null"]  # built-in untouched

    assert run.returncode == 0, run.stderr[-3000:]
    assert "field " + gone + " no longer exists" in run.stderr
    records = run.records["contacts"]
    filled = 0
    for record in records:
        custom = truth["custom"][str(record["id"])]
        for name, key in columns.items():
            assert record[name] == scrub_any(custom.get(key)), (record["id"], name)
            filled += record[name] is not None
        assert record["cf_gone"] is None
    assert filled > len(records)
    assert sum(gone in truth["custom"][str(r["id"])] for r in records) > 0

    # A renamed field keeps its column until the catalog is discovered again.
    (field_id,) = renamed
    (old_name,) = [n for n, k in columns.items() if k == str(field_id)]
    assert after_rename.returncode == 0, after_rename.stderr[-3000:]
    assert "is now titled" in after_rename.stderr
    for record in after_rename.records["contacts"]:
        assert record[old_name] == truth_after["custom"][str(record["id"])].get(str(field_id))
    (new_name,) = [n for n, k in rediscovered.items() if k == str(field_id)]
    assert new_name != old_name and "renamed_1" in new_name
