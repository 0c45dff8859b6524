"""Files generated from the tap itself: `catalog/catalog.json` and the README settings table.

`make catalog` and `make settings-table` write them; tests/tap/test_catalog.py and
tests/tap/test_docs.py fail while they differ from what the tap reports.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CATALOG = ROOT / "catalog" / "catalog.json"
TAP = [sys.executable, "-m", "tap_heymarket"]
#: The SDK's standard settings are summarised in one README line, not listed.
SDK_SETTINGS = ("stream_map", "faker_config", "flattening_", "batch_config")


def _tap_output(*args: str) -> str:
    """Run the tap with no config and no TAP_HEYMARKET_* variables, as a new user would."""
    return subprocess.run(
        [*TAP, *args],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
        env={"PATH": "/usr/bin:/bin"},
    ).stdout


def discovered_catalog() -> dict:
    """Run discovery in a subprocess, exactly as Meltano does, and select every stream that
    is selected by default (`contact_status` costs one request per contact: opt in)."""
    catalog = json.loads(_tap_output("--discover"))
    for stream in catalog["streams"]:
        for entry in stream["metadata"]:
            if entry["breadcrumb"] == []:
                entry["metadata"]["selected"] = entry["metadata"].get("selected-by-default", True)
    catalog["streams"].sort(key=lambda s: s["tap_stream_id"])
    return catalog


def render_catalog(catalog: dict) -> str:
    return json.dumps(catalog, indent=2, sort_keys=True) + "\n"


def settings_table() -> str:
    """The tap's own settings from `--about --format=markdown`, as a Markdown table."""
    about = _tap_output("--about", "--format=markdown")
    lines = about.split("## Settings", 1)[1].strip().splitlines()
    table = [line for line in lines if line.startswith("|")]
    kept = [row for row in table if not row.split("|")[1].strip().startswith(SDK_SETTINGS)]
    return "\n".join(kept) + "\n"
