"""What a warehouse must hold after a sync of the sandbox, and how its values compare with
what the tap emitted (tests/e2e/test_warehouses.py, tests/e2e/test_own_project.py)."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from heymarket_dev.meltano import (
    ROOT,
    TABLES,
    plugin_executable,
    selected_streams,
    truth_counts,
)

COUNTS = "count(*), count(DISTINCT id), count(*) - count(id)"

#: contact_field_values has a two-column key, no `id`.
FIELD_VALUES = "contact_field_values"

FIELD_VALUE_COUNTS = (
    "count(*), count(DISTINCT CAST(contact_id AS VARCHAR) || '/' || field_id), "
    "count(*) - count(contact_id)"
)

WH_QUERY = ROOT / "scripts" / "wh_query.py"


def warehouse_rows(
    kind: str,
    *sql: str,
    database: Path | None = None,
    env: Mapping[str, str] | None = None,
    python: Path | None = None,
    script: Path = WH_QUERY,
) -> list[list[list]]:
    """Rows per statement, read by scripts/wh_query.py under a loader venv's Python (by
    default this repository's target-duckdb, or target-postgres's, which connects with the
    PG* variables of `env`); `database` is the DuckDB file."""
    loader = "target-duckdb" if kind == "duckdb" else "target-postgres"
    python = python or plugin_executable("loaders", loader).with_name("python")
    args = [kind, str(database)] if kind == "duckdb" else [kind]
    proc = subprocess.run(
        [str(python), str(script), *args],
        cwd=script.parents[1],
        input=json.dumps([{"sql": q, "params": []} for q in sql]),
        capture_output=True,
        text=True,
        env=dict(env) if env is not None else None,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, f"{kind} query failed:\n{proc.stderr[-3000:]}"
    return json.loads(proc.stdout)


def expected_tables(truth: dict) -> dict[str, int]:
    """Rows per table a full run must load: every stream of the sandbox's truth that the tap
    offers and meltano.yml selects (the sandbox also serves resources the tap does not
    extract)."""
    selected = selected_streams()
    want = {s: n for s, n in truth_counts(truth).items() if s in selected}
    assert set(TABLES) <= set(want), f"the truth lacks streams: {sorted(set(TABLES) - set(want))}"
    return want


def assert_matches_truth(stats: dict, truth: dict) -> None:
    want = expected_tables(truth)
    assert set(stats["tables"]) == set(want), (
        f"tables {sorted(stats['tables'])}, but the tap's streams in the truth are {sorted(want)}"
    )
    for table, rows in want.items():
        t = stats["tables"][table]
        assert t["null_ids"] == 0, f"{table}: rows without id"
        assert t["distinct_ids"] == t["rows"], f"{table}: duplicate ids {t}"
        if table == FIELD_VALUES:
            assert_field_values_match(stats["field_values"], truth)
        else:
            assert t["rows"] == rows, f"{table}: {t['rows']} rows, truth {rows}"
    assert stats["contact_field_ids"] == sorted(int(i) for i in truth["contact_fields"])
    assert stats["tag_revs"] == {str(k): v for k, v in truth["tags"].items()}
    want = {str(k): v for k, v in truth["contacts"].items()}
    got = stats["contact_revs"]
    assert set(got) == set(want), (
        f"contact ids differ: missing {sorted(set(want) - set(got))[:10]}, "
        f"unexpected {sorted(set(got) - set(want))[:10]}"
    )
    stale = {k: (got[k], v) for k, v in want.items() if got[k] != v}
    assert not stale, (
        f"{len(stale)} contacts with a rev other than the truth's (got, want): "
        + str(dict(list(stale.items())[:10]))
    )


def assert_field_values_match(loaded: dict[str, Any], truth: dict) -> None:
    """contact_field_values, applied by key, holds every contact's custom map and nothing
    stale: a cleared key's row is null (the tap emits it so), never its old value.

    DuckDB's CSV load stores "" as NULL, so "" and NULL are compared as one "no value".
    """
    assert "custom" in truth, "call sandbox.truth(custom=True)"

    def same(value: Any) -> Any:  # Postgres holds U+FFFD for U+0000 (docs/warehouses.md)
        return value.replace("\x00", "\ufffd") if isinstance(value, str) else value

    want = {
        f"{cid}/{fid}": same(value)
        for cid, custom in truth["custom"].items()
        for fid, value in custom.items()
    }
    loaded = {k: same(v) for k, v in loaded.items()}
    missing = sorted(set(want) - set(loaded))[:10]
    assert not missing, f"contact_field_values lacks rows for {missing}"
    held = {k: v for k, v in loaded.items() if v not in (None, "")}
    stale = sorted(k for k in held if k not in want)[:10]
    assert not stale, f"contact_field_values keeps values the contacts no longer hold: {stale}"
    wrong = {k: (held.get(k), v) for k, v in want.items() if v and held.get(k) != v}
    assert not wrong, (
        f"contact_field_values differs from the truth: {dict(list(wrong.items())[:5])}"
    )


def nul_contact_ids(truth: dict) -> set[int]:
    """The contacts the sandbox gave U+0000 characters. Once the sandbox reports them
    (`nul_contacts`), there must be some: these tests exist to load them."""
    if "nul_contacts" not in truth:
        return set()
    ids = {int(i) for i in truth["nul_contacts"]}
    assert ids, "the sandbox reports no contact with a U+0000 character"
    return ids


def as_emitted(value: Any) -> Any:
    """`value` as the tap emits it, and so as every warehouse must hold it: U+0000 -> U+FFFD
    in every string, at any depth, keys included (`replace_nul_characters`, on by default;
    docs/warehouses.md, "NUL characters")."""
    if isinstance(value, str):
        return value.replace("\x00", "\ufffd")
    if isinstance(value, list):
        return [as_emitted(v) for v in value]
    if isinstance(value, dict):
        return {as_emitted(k): as_emitted(v) for k, v in value.items()}
    return value


def has_nul(value: Any) -> bool:
    """Whether U+0000 is in any string of value, at any depth, keys included."""
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, list | tuple):
        return any(has_nul(v) for v in value)
    if isinstance(value, dict):
        return any(has_nul(k) or has_nul(v) for k, v in value.items())
    return False
