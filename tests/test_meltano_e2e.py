"""End to end: Meltano runs tap-heymarket -> target-duckdb against the local sandbox.

Uses the project's meltano.yml (`sandbox` environment) exactly as `make demo` does, but with
everything that could leak between runs made private to the test: a temporary DuckDB file
(TARGET_DUCKDB_FILEPATH), a temporary Meltano system database (MELTANO_DATABASE_URI, which
holds the state), a unique --state-id-suffix, an empty --env-file instead of the project's .env, and
no TAP_HEYMARKET_* / TARGET_* / MELTANO_* variables from the outer environment.

The plugins are installed into .meltano/ by `meltano install` (idempotent: seconds when warm,
about a minute on a fresh machine).
"""

from __future__ import annotations

import datetime as dt
import uuid
from pathlib import Path

import pytest

from scripts.meltano_helpers import (
    clean_env,
    duckdb_stats,
    meltano_install,
    meltano_run,
    plugins_installed,
    tail,
)
from tests.sandbox import Sandbox

CONTACTS = 3000
SEED = 7
TRUTH_COUNT_KEY = {
    "contacts": "count",
    "contact_fields": "contact_field_count",
    "tags": "tag_count",
}


@pytest.fixture(scope="session")
def meltano_plugins(tmp_path_factory: pytest.TempPathFactory) -> None:
    log = tmp_path_factory.mktemp("meltano-install") / "install.log"
    meltano_install(clean_env(), log=log)
    assert plugins_installed(), f"plugins missing after meltano install:\n{tail(log)}"


class MeltanoSandboxRun:
    """One private Meltano project state (state id, system db, DuckDB file) for one test."""

    def __init__(self, tmp: Path, sandbox_url: str) -> None:
        self.tmp = tmp
        self.db = tmp / "heymarket.duckdb"
        self.log = tmp / "meltano.log"
        self.env_file = tmp / "empty.env"
        self.env_file.write_text("")
        self.state_id_suffix = f"e2e-{uuid.uuid4().hex}"
        self.env = clean_env(
            {
                "HEYMARKET_SANDBOX_URL": sandbox_url,
                "TARGET_DUCKDB_FILEPATH": str(self.db),
                "MELTANO_DATABASE_URI": f"sqlite:///{tmp / 'meltano.db'}",
            }
        )

    def run(self) -> dict:
        """meltano run; returns duckdb stats with rows written by this run (`written_since`)."""
        started = dt.datetime.now()  # naive local time, like target-duckdb's _sdc_batched_at
        proc = meltano_run(
            env=self.env,
            env_file=self.env_file,
            log=self.log,
            state_id_suffix=self.state_id_suffix,
            timeout=600,
        )
        assert proc.returncode == 0, f"meltano run failed:\n{tail(self.log, 80)}"
        return duckdb_stats(self.db, since=started.isoformat(sep=" "), revs=True)


def assert_matches_truth(stats: dict, truth: dict) -> None:
    for table, key in TRUTH_COUNT_KEY.items():
        t = stats["tables"][table]
        assert t["exists"], f"table {table} was not created"
        assert t["null_ids"] == 0, f"{table}: rows without id"
        assert t["distinct_ids"] == t["rows"], f"{table}: duplicate ids {t}"
        assert t["rows"] == int(truth[key]), f"{table}: {t['rows']} rows, truth {truth[key]}"
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


def test_meltano_sandbox_full_then_incremental(meltano_plugins: None, tmp_path: Path) -> None:
    with Sandbox(contacts=CONTACTS, seed=SEED) as sb:
        m = MeltanoSandboxRun(tmp_path, sb.url)

        first = m.run()
        truth1 = sb.truth()
        assert int(truth1["count"]) == CONTACTS
        assert_matches_truth(first, truth1)
        assert first["tables"]["contacts"]["written_since"] == CONTACTS

        sb.mutate(n=5, new=3)
        truth2 = sb.truth()
        changed = {
            str(k) for k, rev in truth2["contacts"].items() if truth1["contacts"].get(k) != rev
        }
        assert int(truth2["count"]) == CONTACTS + 3
        assert len(changed) == 5 + 3, f"sandbox mutate changed {len(changed)} contacts"

        second = m.run()
        assert_matches_truth(second, truth2)
        revs = second["contact_revs"]
        assert all(revs[k] == truth2["contacts"][k] for k in changed)
        # Incremental: the second run resumed from the saved bookmark instead of re-reading
        # every contact (upserts of a few boundary records are fine; a full re-sync is not).
        written = second["tables"]["contacts"]["written_since"]
        assert len(changed) <= written < CONTACTS, (
            f"second run wrote {written} contacts; expected an incremental sync"
        )
