"""The committed catalog, discovered without credentials, holds no custom-field columns
(tests/tap/test_contact_fields.py discovers them against the sandbox)."""

from __future__ import annotations

import json

from heymarket_dev.generated import CATALOG
from tap_heymarket.field_columns import columns_in
from tests.support.contact_values import stream_schema


def test_discovery_without_credentials_has_no_columns() -> None:
    catalog = json.loads(CATALOG.read_text())
    assert columns_in(stream_schema(catalog, "contacts")) == {}
    assert not [p for p in stream_schema(catalog, "contacts")["properties"] if p.startswith("cf_")]
