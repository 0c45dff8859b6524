"""Print the README's settings table, generated from `tap-heymarket --about --format=markdown`.

Only the tap's own settings are kept; the SDK's standard ones (stream maps, flattening,
batch) are summarised in one line. tests/test_docs.py fails when README.md differs.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SDK_SETTINGS = ("stream_map", "faker_config", "flattening_", "batch_config")


def settings_table() -> str:
    about = subprocess.run(
        [sys.executable, "-c", "from tap_heymarket.cli import main; main()", "--about",
         "--format=markdown"],
        capture_output=True, text=True, check=True, cwd=ROOT, env={"PATH": "/usr/bin:/bin"},
    ).stdout
    lines = about.split("## Settings", 1)[1].strip().splitlines()
    table = [line for line in lines if line.startswith("|")]
    kept = [
        row for row in table
        if not row.split("|")[1].strip().startswith(SDK_SETTINGS)
    ]
    return "\n".join(kept) + "\n"


if __name__ == "__main__":
    sys.stdout.write(settings_table())
