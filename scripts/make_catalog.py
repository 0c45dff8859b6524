"""Write catalog/catalog.json: `tap-heymarket --discover` with every stream selected.

Run `make catalog` after changing a schema; tests/test_catalog.py fails while the file
and the discovered catalog differ.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CATALOG = ROOT / "catalog" / "catalog.json"


def discovered_catalog() -> dict:
    """Run discovery in a subprocess, exactly as Meltano does, and select every stream."""
    out = subprocess.run(
        [sys.executable, "-c", "from tap_heymarket.cli import main; main()", "--discover"],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
        env={"PATH": "/usr/bin:/bin"},
    ).stdout
    catalog = json.loads(out)
    for stream in catalog["streams"]:
        for entry in stream["metadata"]:
            if entry["breadcrumb"] == []:
                entry["metadata"]["selected"] = True
    catalog["streams"].sort(key=lambda s: s["tap_stream_id"])
    return catalog


def render(catalog: dict) -> str:
    return json.dumps(catalog, indent=2, sort_keys=True) + "\n"


if __name__ == "__main__":
    CATALOG.parent.mkdir(exist_ok=True)
    CATALOG.write_text(render(discovered_catalog()))
    print(f"wrote {CATALOG.relative_to(ROOT)}")
