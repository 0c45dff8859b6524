"""Write plugin/tap-heymarket.yml: the Meltano plugin definition, from `--about --format=json`.

Run `make plugin-definition` after changing a setting; tests/tap/test_plugin_definition.py
fails while the file and the tap's `--about` differ.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from heymarket_dev.generated import (
    PLUGIN_DEFINITION,
    ROOT,
    plugin_definition,
    render_plugin_definition,
)

if __name__ == "__main__":
    PLUGIN_DEFINITION.parent.mkdir(exist_ok=True)
    PLUGIN_DEFINITION.write_text(render_plugin_definition(plugin_definition()))
    print(f"wrote {PLUGIN_DEFINITION.relative_to(ROOT)}")
