"""catalog/catalog.json stays equal to `tap-heymarket --discover`; selection works as usual.

The tap runs as a subprocess here; the file's own streams and keys are checked in process
by tests/unit/test_catalog.py.
"""

from __future__ import annotations

import copy
import json

from heymarket_dev.generated import CATALOG, discovered_catalog, render_catalog
from heymarket_sandbox import Sandbox
from tests.support.tap_runner import run_tap, sandbox_config


def test_catalog_file_matches_discovery() -> None:
    assert CATALOG.read_text() == render_catalog(discovered_catalog()), (
        "catalog/catalog.json drifted from --discover: run `make catalog`"
    )


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
