"""catalog/catalog.json holds the documented streams, keys and replication methods
(tests/tap/test_catalog.py checks it equals `tap-heymarket --discover`)."""

from __future__ import annotations

import json

from heymarket_dev.generated import CATALOG
from tests.support.tap_runner import STREAMS


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
