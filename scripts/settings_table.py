"""Print the README's settings table (see heymarket_dev.generated.settings_table)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from heymarket_dev.generated import settings_table

if __name__ == "__main__":
    sys.stdout.write(settings_table())
