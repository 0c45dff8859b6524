"""Test-wide guards: no real credentials, no network, warnings are errors.

The SDK's test factory reads `TAP_HEYMARKET_*` variables and `.env` when it builds the
tap at collection time. Strip them here, before any test module is imported, so a
developer's real credentials can never reach a test or a request.
"""

from __future__ import annotations

import os

for _name in list(os.environ):
    if _name.startswith(("TAP_HEYMARKET_", "TARGET_DUCKDB_", "TARGET_JSONL_")):
        del os.environ[_name]
