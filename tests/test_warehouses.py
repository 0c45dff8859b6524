"""End to end into real warehouses: Meltano runs tap-heymarket -> DuckDB and -> Postgres.

Each warehouse (parametrized) gets, against one local sandbox (heymarket_sandbox), exactly what a
Meltano user runs: `meltano --environment=sandbox run tap-heymarket target-<warehouse>` with the
project's meltano.yml. Everything that could leak between runs is private to the module: a
temporary Meltano system database (MELTANO_DATABASE_URI, which holds the state), a unique
--state-id-suffix, an empty --env-file instead of the project's .env, no TAP_HEYMARKET_* /
TARGET_* / MELTANO_* variables from the outer environment, a temporary DuckDB file and a
throwaway Postgres schema (dropped afterwards).

Postgres: the server's address comes from libpq's variables (PGHOST, PGPORT, PGUSER,
PGPASSWORD, PGDATABASE), which `.ci/run` exports after starting its own server, so the tests
also run against any Postgres a developer already has (they only create and drop schemas
named heymarket_e2e_*). Without PGHOST the session starts a throwaway server itself with
scripts/postgres_ci.sh if the PostgreSQL binaries are installed; without those it FAILS.

The warehouses are read with scripts/wh_query.py under each loader's own venv (the project's
.venv has neither duckdb nor psycopg). The plugins are installed by `meltano install`.
"""

from __future__ import annotations

import collections
import datetime as dt
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import unicodedata
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from heymarket_dev.meltano import (
    MELTANO,
    ROOT,
    TAP_EXE,
    clean_env,
    meltano_cmd,
    meltano_install,
    meltano_run,
    tail,
)
from heymarket_sandbox import Sandbox

CONTACTS = 3000
SEED = 7
TRUTH_COUNT_KEY = {
    "contacts": "count",
    "contact_fields": "contact_field_count",
    "tags": "tag_count",
}
WAREHOUSES = ("duckdb", "postgres")
COUNTS = "count(*), count(DISTINCT id), count(*) - count(id)"
WH_QUERY = ROOT / "scripts" / "wh_query.py"
POSTGRES_CI = ROOT / "scripts" / "postgres_ci.sh"
LOADER_PYTHON = {
    "duckdb": ROOT / ".meltano" / "loaders" / "target-duckdb" / "venv" / "bin" / "python",
    "postgres": ROOT / ".meltano" / "loaders" / "target-postgres" / "venv" / "bin" / "python",
}
DRIVER = {"duckdb": "duckdb, target_duckdb", "postgres": "psycopg, target_postgres"}

# "Contacts with custom field <title> = <value> AND tag <name>", as in docs/warehouses.md.
# {c}, {f}: the contacts and contact_fields tables.
FILTER_SQL = {
    "duckdb": """
        SELECT c.id
        FROM {c} AS c
        JOIN {f} AS f ON f.title = ?
        WHERE c.custom ->> ('$."' || CAST(f.id AS VARCHAR) || '"') = ?
          AND list_contains(c.tags ->> '$[*].name', ?)
        ORDER BY c.id
    """,
    "postgres": """
        SELECT c.id
        FROM {c} AS c
        JOIN {f} AS f ON f.title = %s
        WHERE c.custom ->> f.id::text = %s
          AND EXISTS (SELECT 1 FROM unnest(c.tags) AS t(tag) WHERE t.tag ->> 'name' = %s)
        ORDER BY c.id
    """,
}


# --------------------------------------------------------------------------- Postgres server


@pytest.fixture(scope="session")
def postgres_env() -> Iterator[dict[str, str]]:
    """libpq variables of a Postgres to load into: the configured one, or a throwaway one."""
    if os.environ.get("PGHOST"):
        yield {
            k: os.environ[k]
            for k in ("PGHOST", "PGPORT", "PGUSER", "PGPASSWORD", "PGDATABASE")
            if k in os.environ
        }
        return
    have_binaries = shutil.which("initdb") or any(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    if not have_binaries:
        pytest.fail(
            "No Postgres for the warehouse tests: set PGHOST (and PGPORT, PGUSER, PGPASSWORD, "
            "PGDATABASE) to a server these tests may create schemas in, or install the "
            "PostgreSQL binaries (apt-get install -y postgresql) so the tests start their own "
            "(`bash .ci/run` does both).",
            pytrace=False,
        )
    # Not under pytest's tmp dir: as root the server runs as the `postgres` user, who cannot
    # enter root's 0700 pytest-of-root directory. The script chowns this one.
    workdir = Path(tempfile.mkdtemp(prefix="heymarket-test-pg-"))
    proc = subprocess.run(
        ["bash", str(POSTGRES_CI), "start", str(workdir)],
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        shutil.rmtree(workdir, ignore_errors=True)
        pytest.fail(f"starting a throwaway Postgres failed:\n{proc.stderr[-3000:]}", pytrace=False)
    try:
        env = dict(re.findall(r"^export (PG[A-Z]+)=(.*)$", proc.stdout, re.MULTILINE))
        yield env
    finally:
        subprocess.run(["bash", str(POSTGRES_CI), "stop", str(workdir)], check=False)
        shutil.rmtree(workdir, ignore_errors=True)


# --------------------------------------------------------------------------- Meltano plugins


@pytest.fixture(scope="session")
def meltano_plugins(tmp_path_factory: pytest.TempPathFactory) -> None:
    log = tmp_path_factory.mktemp("meltano-install") / "install.log"
    meltano_install(clean_env(), log=log)
    assert TAP_EXE.exists(), f"tap-heymarket missing after meltano install:\n{tail(log)}"
    for kind, python in LOADER_PYTHON.items():
        probe = subprocess.run(
            [str(python), "-c", f"import {DRIVER[kind]}"], capture_output=True, check=False
        )
        assert probe.returncode == 0, f"target-{kind} missing after meltano install:\n{tail(log)}"


# --------------------------------------------------------------------------- one warehouse


class Warehouse:
    """A private Meltano project state plus one warehouse destination, for one sandbox."""

    def __init__(self, kind: str, tmp: Path, sandbox_url: str, pg: dict[str, str]) -> None:
        self.kind = kind
        self.loader = f"target-{kind}"
        self.tmp = tmp
        self.log = tmp / "meltano.log"
        self.env_file = tmp / "empty.env"
        self.env_file.write_text("")
        self.state_id_suffix = f"e2e-{uuid.uuid4().hex}"
        self.query_env = clean_env()
        extra = {
            "HEYMARKET_SANDBOX_URL": sandbox_url,
            "MELTANO_DATABASE_URI": f"sqlite:///{tmp / 'meltano.db'}",
        }
        if kind == "duckdb":
            self.db = tmp / "heymarket.duckdb"
            self.schema = "heymarket"
            extra["TARGET_DUCKDB_FILEPATH"] = str(self.db)
            # target-duckdb names the catalog after the file: qualify fully.
            self.prefix = f'"heymarket"."{self.schema}"'
        else:
            self.schema = f"heymarket_e2e_{uuid.uuid4().hex[:12]}"
            self.query_env.update(pg)
            extra.update(
                {
                    "TARGET_POSTGRES_HOST": pg.get("PGHOST", "127.0.0.1"),
                    "TARGET_POSTGRES_PORT": pg.get("PGPORT", "5432"),
                    "TARGET_POSTGRES_USER": pg.get("PGUSER", "postgres"),
                    "TARGET_POSTGRES_PASSWORD": pg.get("PGPASSWORD", ""),
                    "TARGET_POSTGRES_DATABASE": pg.get("PGDATABASE", "postgres"),
                    "TARGET_POSTGRES_DEFAULT_TARGET_SCHEMA": self.schema,
                }
            )
            self.prefix = f'"{self.schema}"'
        self.env = clean_env(extra)

    def table(self, name: str) -> str:
        return f'{self.prefix}."{name}"'

    def placeholder(self) -> str:
        return "?" if self.kind == "duckdb" else "%s"

    def run(self) -> None:
        proc = meltano_run(
            env=self.env,
            env_file=self.env_file,
            log=self.log,
            state_id_suffix=self.state_id_suffix,
            loader=self.loader,
            timeout=600,
        )
        assert proc.returncode == 0, f"meltano run ({self.loader}) failed:\n{tail(self.log, 80)}"

    def query(self, *queries: tuple[str, list]) -> list[list[list]]:
        """Run (sql, params) pairs in one loader-venv process; rows per query."""
        cmd = [str(LOADER_PYTHON[self.kind]), str(WH_QUERY), self.kind]
        if self.kind == "duckdb":
            cmd.append(str(self.db))
        proc = subprocess.run(
            cmd,
            input=json.dumps([{"sql": s, "params": p} for s, p in queries]),
            capture_output=True,
            text=True,
            env=self.query_env,
            check=False,
        )
        assert proc.returncode == 0, f"{self.kind} query failed:\n{proc.stderr[-3000:]}"
        return json.loads(proc.stdout)

    def json_value(self, value: object) -> object:
        """A JSON column's value as Python (DuckDB returns text; Postgres jsonb is parsed)."""
        return json.loads(value) if self.kind == "duckdb" and isinstance(value, str) else value

    def drop(self) -> None:
        if self.kind == "postgres":
            self.query((f'DROP SCHEMA IF EXISTS "{self.schema}" CASCADE', []))

    # ---- checks

    def table_stats(self) -> dict:
        names = list(TRUTH_COUNT_KEY)
        results = self.query(
            *[(f"SELECT {COUNTS} FROM {self.table(t)}", []) for t in names],
            (f"SELECT id, rev FROM {self.table('contacts')}", []),
            (f"SELECT id, rev FROM {self.table('tags')}", []),
            (f"SELECT id FROM {self.table('contact_fields')}", []),
            (f"SELECT CAST(max(_sdc_batched_at) AS VARCHAR) FROM {self.table('contacts')}", []),
        )
        counts = {
            t: dict(zip(("rows", "distinct_ids", "null_ids"), r[0], strict=True))
            for t, r in zip(names, results, strict=False)
        }
        return {
            "tables": counts,
            "contact_revs": {str(i): r for i, r in results[3]},
            "tag_revs": {str(i): r for i, r in results[4]},
            "contact_field_ids": sorted(int(i) for (i,) in results[5]),
            "max_batched_at": results[6][0][0],
        }


def assert_matches_truth(stats: dict, truth: dict) -> None:
    for table, key in TRUTH_COUNT_KEY.items():
        t = stats["tables"][table]
        assert t["null_ids"] == 0, f"{table}: rows without id"
        assert t["distinct_ids"] == t["rows"], f"{table}: duplicate ids {t}"
        assert t["rows"] == int(truth[key]), f"{table}: {t['rows']} rows, truth {truth[key]}"
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


def api_contacts(sb: Sandbox) -> list[dict]:
    """Every contact exactly as the sandbox serves it over the API (one unclamped page)."""
    resp = requests.post(
        f"{sb.url}/v1/contacts",
        json={"limit": 10 * CONTACTS},
        headers=sb.auth_headers(),
        timeout=60,
    )
    resp.raise_for_status()
    contacts = resp.json()
    assert len(contacts) == int(sb.truth()["count"])
    return contacts


def api_list(sb: Sandbox, path: str) -> list[dict]:
    resp = requests.post(f"{sb.url}{path}", json={}, headers=sb.auth_headers(), timeout=60)
    resp.raise_for_status()
    return resp.json()


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    with Sandbox(contacts=CONTACTS, seed=SEED) as sb:
        yield sb


@pytest.fixture(scope="module", params=WAREHOUSES)
def synced(
    request: pytest.FixtureRequest,
    meltano_plugins: None,
    sandbox: Sandbox,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Warehouse]:
    """A warehouse after one full `meltano run` from the module's sandbox."""
    kind = request.param
    pg = request.getfixturevalue("postgres_env") if kind == "postgres" else {}
    wh = Warehouse(kind, tmp_path_factory.mktemp(f"wh-{kind}"), sandbox.url, pg)
    wh.run()
    try:
        yield wh
    finally:
        wh.drop()


# --------------------------------------------------------------------------- tests
# Module order matters: the incremental test mutates the sandbox, so it runs last per
# warehouse; the others compare against the sandbox as it is when they run.


def test_full_run_matches_truth(synced: Warehouse, sandbox: Sandbox) -> None:
    truth = sandbox.truth(updated=True)
    stats = synced.table_stats()
    assert_matches_truth(stats, truth)
    # Timestamps land as UTC wall time (naive TIMESTAMP columns in both warehouses).
    (rows,) = synced.query(
        (f"SELECT id, CAST(updated AS VARCHAR) FROM {synced.table('contacts')}", [])
    )
    got = {str(i): dt.datetime.fromisoformat(u) for i, u in rows}
    want = {
        str(i): dt.datetime.fromisoformat(u).astimezone(dt.UTC).replace(tzinfo=None)
        for i, u in truth["updated"].items()
    }
    wrong = {k: (got.get(k), v) for k, v in want.items() if got.get(k) != v}
    assert not wrong, (
        f"{len(wrong)} contacts' updated differ (got, want): {list(wrong.items())[:5]}"
    )


def test_custom_and_tags_queryable(synced: Warehouse, sandbox: Sandbox) -> None:
    contacts = api_contacts(sandbox)
    titles = {str(f["id"]): f["title"] for f in api_list(sandbox, "/v1/contact-fields")}
    # The most common (field title, value, tag) combination, so the filter matches several
    # contacts but far from all; ties broken by sorting, so the choice is deterministic.
    combos: collections.Counter[tuple[str, str, str]] = collections.Counter()
    for c in contacts:
        for key, value in (c.get("custom") or {}).items():
            if key not in titles or value is None:
                continue
            for tag in c.get("tags") or []:
                combos[(titles[key], value, tag["name"])] += 1
    assert combos, "the sandbox served no contact with both a custom value and a tag"
    (title, value, tag), n = max(sorted(combos.items()), key=lambda kv: kv[1])
    assert 2 <= n < len(contacts) / 4, (title, value, tag, n)
    field_ids = {k for k, v in titles.items() if v == title}
    want = sorted(
        c["id"]
        for c in contacts
        if any((c.get("custom") or {}).get(k) == value for k in field_ids)
        and any(t.get("name") == tag for t in c.get("tags") or [])
    )
    sql = FILTER_SQL[synced.kind].format(
        c=synced.table("contacts"), f=synced.table("contact_fields")
    )
    (rows,) = synced.query((sql, [title, value, tag]))
    assert [int(i) for (i,) in rows] == want, (title, value, tag)


def _has(category: str, text: str) -> bool:
    if category == "emoji":
        return any(ord(ch) >= 0x1F000 or 0x2600 <= ord(ch) < 0x2800 for ch in text)
    if category == "rtl":
        return any(unicodedata.bidirectional(ch) in ("R", "AL") for ch in text)
    # accents: a Latin letter that is not ASCII (é, ñ, ü, ...)
    return any(ord(ch) > 127 and "LATIN" in unicodedata.name(ch, "") for ch in text)


def test_unicode_survives(synced: Warehouse, sandbox: Sandbox) -> None:
    fields = ("display_name", "first", "last")
    served = {
        c["id"]: c
        for c in api_contacts(sandbox)
        if any(not (c.get(f) or "").isascii() for f in fields)
    }
    texts = [c.get(f) or "" for c in served.values() for f in fields]
    for category in ("emoji", "rtl", "accents"):
        assert any(_has(category, s) for s in texts), f"sandbox served no {category} names"
    ph = synced.placeholder()
    ids = sorted(served)
    (rows,) = synced.query(
        (
            f"SELECT id, display_name, first, last, custom, note FROM {synced.table('contacts')} "
            f"WHERE id IN ({', '.join([ph] * len(ids))})",
            ids,
        )
    )
    got = {int(r[0]): r for r in rows}
    assert set(got) == set(served)
    diffs = []
    empty_as_null = 0
    for cid, c in served.items():
        _, display_name, first, last, custom, note = got[cid]
        loaded = {"display_name": display_name, "first": first, "last": last}
        for f in fields:
            if loaded[f] == c.get(f):
                continue
            if synced.kind == "duckdb" and c.get(f) == "" and loaded[f] is None:
                # Known target-duckdb 0.8.0 limitation (docs/warehouses.md): it loads
                # batches as CSV, where "" and NULL are the same empty field.
                empty_as_null += 1
                continue
            diffs.append((cid, f, c.get(f), loaded[f]))
        if synced.json_value(custom) != c.get("custom"):
            diffs.append((cid, "custom", c.get("custom"), custom))
        if synced.json_value(note) != c.get("note"):
            diffs.append((cid, "note", c.get("note"), note))
    assert not diffs, f"{len(diffs)} values changed on the way in, e.g. {diffs[:5]}"
    if synced.kind == "postgres":
        assert empty_as_null == 0
    # Byte-for-byte: the UTF-8 encodings are equal too (no normalization on the way).
    for cid, c in served.items():
        for i, f in enumerate(fields, start=1):
            if c.get(f):
                assert got[cid][i].encode() == c[f].encode(), (cid, f)


def test_incremental_run_upserts(synced: Warehouse, sandbox: Sandbox) -> None:
    truth1 = sandbox.truth()
    before = synced.table_stats()
    assert_matches_truth(before, truth1)

    changes = sandbox.mutate(n=5, new=3)
    truth2 = sandbox.truth()
    changed = {str(i) for i in changes["updated_ids"] + changes["created_ids"]}
    assert len(changed) == 8
    assert int(truth2["count"]) == int(truth1["count"]) + 3

    synced.run()
    after = synced.table_stats()
    assert_matches_truth(after, truth2)  # counts = truth: no duplicate rows, keyed on id
    revs = after["contact_revs"]
    assert {k: revs[k] for k in changed} == {k: truth2["contacts"][k] for k in changed}
    for k in changes["updated_ids"]:
        assert truth2["contacts"][str(k)] == truth1["contacts"][str(k)] + 1
    # Incremental: the run resumed from the saved bookmark instead of re-reading everything.
    (rows,) = synced.query(
        (
            f"SELECT count(*) FROM {synced.table('contacts')} "
            f"WHERE _sdc_batched_at > CAST({synced.placeholder()} AS TIMESTAMP)",
            [before["max_batched_at"]],
        )
    )
    written = rows[0][0]
    assert len(changed) <= written < len(revs) / 2, (
        f"second run wrote {written} contacts; expected an incremental sync"
    )


# --------------------------------------------------------------------------- meltano config test


def _config_test(sb: Sandbox, tmp_path: Path, **extra: str) -> subprocess.CompletedProcess:
    env_file = tmp_path / "empty.env"
    env_file.write_text("")
    env = clean_env(
        {
            "HEYMARKET_SANDBOX_URL": sb.url,
            "MELTANO_DATABASE_URI": f"sqlite:///{tmp_path / 'meltano.db'}",
            **extra,
        }
    )
    return subprocess.run(
        meltano_cmd("--environment=sandbox", "config", "test", "tap-heymarket", env_file=env_file),
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_meltano_config_test(meltano_plugins: None, tmp_path: Path) -> None:
    assert MELTANO.exists()
    with Sandbox(contacts=50, seed=SEED) as sb:
        good = _config_test(sb, tmp_path)
        assert good.returncode == 0, good.stdout + good.stderr[-3000:]
        assert "Plugin configuration is valid" in good.stdout

        # Environment variables beat the sandbox environment's config: a wrong key.
        bad = _config_test(sb, tmp_path, TAP_HEYMARKET_API_SECRET_KEY="not-the-key")
        out = bad.stdout + bad.stderr
        assert bad.returncode != 0, out[-3000:]
        assert "Plugin configuration is invalid" in out, out[-3000:]
        assert "401" in out and "check api_secret_id/api_secret_key" in out, out[-3000:]
        assert "not-the-key" not in out, "the secret was echoed"


if __name__ == "__main__":  # pragma: no cover
    sys.exit(pytest.main([__file__, "-v"]))
