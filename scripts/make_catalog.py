"""Write catalog/catalog.json: `tap-heymarket --discover` with every stream selected.

Run `make catalog` after changing a schema; tests/tap/test_catalog.py fails while the file
and the discovered catalog differ.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from heymarket_dev.generated import (
    CATALOG,
    ROOT,
    discovered_catalog,
    render_catalog,
)

if __name__ == "__main__":
    CATALOG.parent.mkdir(exist_ok=True)
    CATALOG.write_text(render_catalog(discovered_catalog()))
    print(f"wrote {CATALOG.relative_to(ROOT)}")
