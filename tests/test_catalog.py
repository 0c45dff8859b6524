"""catalog/catalog.json stays equal to `tap-heymarket --discover`; selection works as usual."""

from __future__ import annotations

import copy
import json

from heymarket_dev.generated import CATALOG, discovered_catalog, render_catalog
from heymarket_sandbox import Sandbox
from tests.support.tap_runner import STREAMS, run_tap, sandbox_config


def test_catalog_file_matches_discovery() -> None:
    assert CATALOG.read_text() == render_catalog(discovered_catalog()), (
        "catalog/catalog.json drifted from --discover: run `make catalog`"
    )


def test_catalog_has_the_documented_streams_and_keys() -> None:
    catalog = json.loads(CATALOG.read_text())
    streams = {s["tap_stream_id"]: s for s in catalog["streams"]}
    # The streams built from the contacts walk (contact_streams.py) have their own keys.
    children = {"contact_field_values": ["contact_id", "field_id"], "contact_status": ["id"]}
    # delete_sweeps: one row per stream swept for deletes (tap_heymarket/swept_stream.py).
    assert set(streams) == set(STREAMS) | set(children) | {"delete_sweeps"}
    assert streams["delete_sweeps"]["key_properties"] == ["stream"]
    assert streams["delete_sweeps"]["replication_method"] == "FULL_TABLE"
    for name, keys in children.items():
        assert streams[name]["key_properties"] == keys, name
        assert streams[name]["replication_method"] == "INCREMENTAL", name
    contacts = streams["contacts"]
    assert contacts["key_properties"] == ["id"]
    assert contacts["replication_key"] == "updated"
    assert contacts["replication_method"] == "INCREMENTAL"
    props = contacts["schema"]["properties"]
    for field in (
        "id",
        "display_name",
        "first",
        "last",
        "email",
        "phone",
        "custom",
        "team_id",
        "creator_id",
        "inbox_id",
        "parent_id",
        "assigned_user_id",
        "shared",
        "created",
        "updated",
        "rev",
        "op",
        "tags",
        "is_opted_out",
        "avatar",
        "external_id",
        "external_ref",
        "type",
        "note",
        "uuid",
        "contact_channels",
    ):
        assert field in props, field
    assert props["updated"]["format"] == "date-time"
    assert props["created"]["format"] == "date-time"
    assert props["custom"]["additionalProperties"] == {"type": ["string", "null"]}
    assert "color" in streams["tags"]["schema"]["properties"]
    assert "tag" in streams["tags"]["schema"]["properties"]
    for name in ("contact_fields", "inboxes", "team_members", "surveys"):
        assert streams[name]["replication_method"] == "FULL_TABLE", name
    for name in ("contacts", "tags", "templates"):
        assert streams[name]["replication_key"] == "updated", name
    for name in STREAMS:
        assert streams[name]["key_properties"] == ["id"], name
    text = CATALOG.read_text()
    assert "sandbox-secret" not in text


def _set(catalog: dict, stream: str, breadcrumb: list, selected: bool) -> None:
    for s in catalog["streams"]:
        if s["tap_stream_id"] != stream:
            continue
        for entry in s["metadata"]:
            if entry["breadcrumb"] == breadcrumb:
                entry["metadata"]["selected"] = selected


def test_stream_and_property_selection() -> None:
    catalog = copy.deepcopy(json.loads(CATALOG.read_text()))
    for stream in [s["tap_stream_id"] for s in catalog["streams"]]:
        if stream != "contacts":
            _set(catalog, stream, [], False)
    for field in ("email", "id", "updated"):
        _set(catalog, "contacts", ["properties", field], False)
    with Sandbox(contacts=200, seed=3) as sb:
        run = run_tap(sandbox_config(sb.url), catalog=catalog)
    assert run.returncode == 0, run.stderr[-2000:]
    assert set(run.records) == {"contacts"}
    record = run.records["contacts"][0]
    assert "email" not in record
    # The primary key and the replication key cannot be deselected.
    assert "id" in record and "updated" in record
    assert len(run.records["contacts"]) == 200
