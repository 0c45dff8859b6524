"""Developer tooling around the tap: Meltano runs against the sandbox, generated docs.

Imported by `scripts/` (the demo, the benchmark, the generators) and by `tests/`. It may
import `tap_heymarket` and `heymarket_sandbox`; nothing outside `tests/` imports `tests`.
"""
