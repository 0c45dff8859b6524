"""A project of one's own: the minimal meltano.yml of docs/warehouses.md, into every loader it
shows, from a sandbox that serves every field in its other plausible JSON types.

A user's own project holds the tap and a loader with its connection settings and nothing
else: no batch sizes, no NUL sanitizing, no stream maps, no `validate_records` override, no
schema mapping. The tap must make that enough: it conforms every record to its schema and
replaces U+0000 (docs/warehouses.md, "NUL characters and unexpected types"). This test:

1. writes the YAML blocks of docs/warehouses.md's "Your own project" section, as written, to
   the meltano.yml of a new directory; only each `pip_url` is swapped for the executable
   `meltano install` put in this repository's .meltano/ from the same pin (tests/unit/test_docs.py
   checks the pins are equal), so nothing is installed twice;
2. starts a sandbox with `shapes="all"` (ids as digit strings, booleans as 0/1, `media` as a
   list, zero values, other timestamp forms, numbers as strings, objects for lists, digit
   strings as numbers) whose contacts include some with U+0000 (`truth()["nul_contacts"]`);
3. per loader (parametrized): `meltano run tap-heymarket <loader>` in that project, the whole
   default selection, with the settings' values from the environment as the docs say
   (sandbox credentials, a private DuckDB file, a throwaway Postgres schema
   heymarket_e2e_own_*, a private CSV directory), a private Meltano system database and an
   empty --env-file;
4. every table holds the sandbox's truth: row count, distinct keys, ids, every contact's and
   tag's `rev`, and contact_field_values key by key (tests/e2e/test_warehouses.py's checks); every
   NUL contact loaded, with U+FFFD where the U+0000 was and no U+0000 anywhere.

The loaders: target-duckdb 0.8.0 (pre-SDK), MeltanoLabs target-postgres 0.8.1 (SDK),
PipelineWise target-postgres 2.1.2 (pre-SDK) and MeltanoLabs target-csv 0.5.0 (SDK). Postgres
comes from `postgres_env` (tests/conftest.py): PGHOST's server, else a throwaway one.
"""

from __future__ import annotations

import csv
import json
import re
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml

from heymarket_dev.doc_commands import documented_project
from heymarket_dev.meltano import (
    MELTANO,
    TAP_EXE,
    clean_env,
    plugin_executable,
    project_plugins,
    run_logged,
    tail,
)
from heymarket_sandbox import SECRET_ID, SECRET_KEY, Sandbox
from tests.support.warehouse_truth import (
    COUNTS,
    FIELD_VALUE_COUNTS,
    FIELD_VALUES,
    as_emitted,
    assert_matches_truth,
    expected_tables,
    has_nul,
    nul_contact_ids,
    warehouse_rows,
)

CONTACTS = 1500
SEED = 7
LOADERS = ("target-duckdb", "target-postgres", "target-postgres-pipelinewise", "target-csv")
NUL = "\x00"
FFFD = "\ufffd"
NAMES = ("display_name", "first", "last")
#: The Python of the loader venv that reads each warehouse (scripts/wh_query.py needs duckdb
#: or psycopg; both Postgres loaders' tables are read with MeltanoLabs' venv).
READER = {
    "target-duckdb": "target-duckdb",
    "target-postgres": "target-postgres",
    "target-postgres-pipelinewise": "target-postgres",
}
TIMINGS: dict[str, float] = {}
PIPELINEWISE = "target-postgres-pipelinewise"


def pipelinewise_text(value: Any) -> Any:
    """A string as pipelinewise-target-postgres 2.1.2 stores it in a text column. It writes
    each value to its COPY file with json.dumps, and COPY (FORMAT CSV, ESCAPE '\\') undoes
    only the `\\\\` and `\\"` escapes: a control character (line feed, tab, ...) lands as its
    JSON escape, `line\\nbreak` for "line<LF>break". The loader's own bug, open upstream
    (transferwise/pipelinewise-target-postgres#131; docs/warehouses.md). JSON columns are
    not affected (their text is JSON already)."""
    if not isinstance(value, str):
        return value
    return re.sub(r'\\([\\"])', r"\1", json.dumps(value, ensure_ascii=False)[1:-1])


def as_stored(name: str, truth: dict) -> dict:
    """The truth as `name` stores the contacts' custom values, as the tap emits them (U+0000
    as U+FFFD), then as PipelineWise mangles them (the other loaders store them as emitted)."""
    if name != PIPELINEWISE:
        return truth

    def stored(value: Any) -> Any:
        return pipelinewise_text(as_emitted(value))

    custom = {c: {f: stored(v) for f, v in m.items()} for c, m in truth["custom"].items()}
    return {**truth, "custom": custom}


# --------------------------------------------------------------------------- the project


@pytest.fixture(scope="module")
def project(meltano_plugins: None, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """docs/warehouses.md's meltano.yml in a new directory, each pip_url swapped for the
    executable installed from the same pin."""
    doc = documented_project()
    (tap,) = doc["plugins"]["extractors"]
    assert tap.pop("pip_url"), "the documented extractor has no pip_url"
    tap["executable"] = str(TAP_EXE)
    ours = {p["name"]: p for p in project_plugins("loaders")}
    for loader in doc["plugins"]["loaders"]:
        name = loader["name"]
        assert loader.pop("pip_url") == ours[name]["pip_url"], f"{name}: not the installed pin"
        loader["executable"] = str(plugin_executable("loaders", name))
    assert [p["name"] for p in doc["plugins"]["loaders"]] == list(LOADERS)
    root = tmp_path_factory.mktemp("own-project")
    (root / "meltano.yml").write_text(yaml.safe_dump(doc, sort_keys=False))
    return root


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    with Sandbox(contacts=CONTACTS, seed=SEED, messages=400, conversations=80, shapes="all") as sb:
        yield sb


# --------------------------------------------------------------------------- one loader


class Loaded:
    """One loader's destination after `meltano run tap-heymarket <loader>`, and its reader."""

    def __init__(self, name: str, tmp: Path, pg: dict[str, str]) -> None:
        self.name = name
        self.tmp = tmp
        self.pg = pg
        self.env: dict[str, str] = {}
        self.query_env = clean_env(pg)
        if name == "target-duckdb":
            self.db = tmp / "own.duckdb"
            self.schema = "heymarket"  # the block's value; the file is private
            self.env["TARGET_DUCKDB_FILEPATH"] = str(self.db)
        elif name == "target-csv":
            self.csv_dir = tmp / "csv"
            self.env["TARGET_CSV_OUTPUT_PATH"] = str(self.csv_dir)
        else:
            self.schema = f"heymarket_e2e_own_{uuid.uuid4().hex[:12]}"
            prefix = name.upper().replace("-", "_")
            database = "DBNAME" if name == PIPELINEWISE else "DATABASE"
            self.env.update(
                {
                    f"{prefix}_HOST": pg.get("PGHOST", "127.0.0.1"),
                    f"{prefix}_PORT": pg.get("PGPORT", "5432"),
                    f"{prefix}_USER": pg.get("PGUSER", "postgres"),
                    f"{prefix}_PASSWORD": pg.get("PGPASSWORD", ""),
                    f"{prefix}_{database}": pg.get("PGDATABASE", "postgres"),
                    f"{prefix}_DEFAULT_TARGET_SCHEMA": self.schema,
                }
            )

    # ---- running

    def run(self, project: Path, sandbox_url: str) -> None:
        env_file = self.tmp / "empty.env"
        env_file.write_text("")
        log = self.tmp / "meltano.log"
        env = clean_env(
            {
                "TAP_HEYMARKET_API_URL": sandbox_url,
                "TAP_HEYMARKET_API_SECRET_ID": SECRET_ID,
                "TAP_HEYMARKET_API_SECRET_KEY": SECRET_KEY,
                "MELTANO_DATABASE_URI": f"sqlite:///{self.tmp / 'meltano.db'}",
                **self.env,
            }
        )
        cmd = [str(MELTANO), "--env-file", str(env_file), "run", "tap-heymarket", self.name]
        start = time.monotonic()
        proc = run_logged(cmd, cwd=project, env=env, log=log)
        TIMINGS[self.name] = time.monotonic() - start
        assert proc.returncode == 0, f"meltano run ({self.name}) failed:\n{tail(log, 80)}"

    def drop(self) -> None:
        if self.name in ("target-postgres", "target-postgres-pipelinewise"):
            self.query(f'DROP SCHEMA IF EXISTS "{self.schema}" CASCADE')

    # ---- reading

    def query(self, *sql: str) -> list[list[list]]:
        """Rows per query, with scripts/wh_query.py under a loader venv's Python."""
        reader = READER[self.name]
        python = plugin_executable("loaders", reader).with_name("python")
        kind = "duckdb" if reader == "target-duckdb" else "postgres"
        database = self.db if kind == "duckdb" else None
        return warehouse_rows(kind, *sql, database=database, env=self.query_env, python=python)

    def csv_rows(self, table: str) -> list[dict[str, str]]:
        with (self.csv_dir / f"{table}.csv").open(newline="", encoding="utf-8") as f:
            return list(csv.DictReader(f))

    def table(self, name: str) -> str:
        return f'"{self.schema}"."{name}"'

    def stats(self) -> dict[str, Any]:
        """What tests/e2e/test_warehouses.py's assert_matches_truth compares with the truth."""
        if self.name == "target-csv":
            return self._csv_stats()
        (tables,) = self.query(
            "SELECT table_name FROM information_schema.tables "
            f"WHERE table_schema = '{self.schema}' ORDER BY table_name"
        )
        names = [t for (t,) in tables]
        t = self.table
        results = self.query(
            *[f"SELECT {FIELD_VALUE_COUNTS if n == FIELD_VALUES else COUNTS} FROM {t(n)}"
              for n in names],
            f"SELECT CAST(id AS BIGINT), CAST(rev AS BIGINT) FROM {t('contacts')}",
            f"SELECT CAST(id AS BIGINT), CAST(rev AS BIGINT) FROM {t('tags')}",
            f"SELECT CAST(id AS BIGINT) FROM {t('contact_fields')}",
            f"SELECT CAST(contact_id AS BIGINT), field_id, value FROM {t(FIELD_VALUES)}",
        )  # fmt: skip
        rest = results[len(names) :]
        return {
            "tables": {
                n: dict(zip(("rows", "distinct_ids", "null_ids"), r[0], strict=True))
                for n, r in zip(names, results, strict=False)
            },
            "contact_revs": {str(i): r for i, r in rest[0]},
            "tag_revs": {str(i): r for i, r in rest[1]},
            "contact_field_ids": sorted(int(i) for (i,) in rest[2]),
            "field_values": {f"{c}/{f}": v for c, f, v in rest[3]},
        }

    def _csv_stats(self) -> dict[str, Any]:
        tables = {}
        for path in sorted(self.csv_dir.glob("*.csv")):
            rows = self.csv_rows(path.stem)
            if path.stem == FIELD_VALUES:
                keys = [f"{r['contact_id']}/{r['field_id']}" for r in rows if r["contact_id"]]
            else:
                keys = [r["id"] for r in rows if r["id"]]
            tables[path.stem] = {
                "rows": len(rows),
                "distinct_ids": len(set(keys)),
                "null_ids": len(rows) - len(keys),
            }
        values = self.csv_rows(FIELD_VALUES)
        return {
            "tables": tables,
            "contact_revs": {r["id"]: int(r["rev"]) for r in self.csv_rows("contacts")},
            "tag_revs": {r["id"]: int(r["rev"]) for r in self.csv_rows("tags")},
            "contact_field_ids": sorted(int(r["id"]) for r in self.csv_rows("contact_fields")),
            # CSV has no NULL: an empty field is "no value", as assert_field_values_match reads.
            "field_values": {f"{r['contact_id']}/{r['field_id']}": r["value"] for r in values},
        }

    def contacts(self, ids: list[int]) -> dict[int, dict[str, Any]]:
        """display_name, first, last, and custom and note as loaded (JSON text, jsonb
        parsed to Python, or the CSV's text), by id."""
        columns = (*NAMES, "custom", "note")
        if self.name == "target-csv":
            wanted = {str(i) for i in ids}
            return {
                int(r["id"]): {c: r[c] for c in columns}
                for r in self.csv_rows("contacts")
                if r["id"] in wanted
            }
        (rows,) = self.query(
            f"SELECT CAST(id AS BIGINT), {', '.join(columns)} FROM {self.table('contacts')} "
            f"WHERE id IN ({', '.join(str(i) for i in ids)})"
        )
        return {int(r[0]): dict(zip(columns, r[1:], strict=True)) for r in rows}


@pytest.fixture(scope="module", params=LOADERS)
def loaded(
    request: pytest.FixtureRequest,
    project: Path,
    sandbox: Sandbox,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Loaded]:
    """One loader after a full `meltano run` of the documented project from the sandbox."""
    name = request.param
    pg = request.getfixturevalue("postgres_env") if "postgres" in name else {}
    wh = Loaded(name, tmp_path_factory.mktemp(name), pg)
    try:
        wh.run(project, sandbox.url)
        yield wh
    finally:
        wh.drop()


# --------------------------------------------------------------------------- tests


def served_contacts(sb: Sandbox, ids: set[int]) -> dict[int, dict]:
    """The contacts of `ids` as the sandbox serves them over the API (shapes and all)."""
    resp = requests.post(
        f"{sb.url}/v1/contacts",
        json={"limit": 10 * CONTACTS},
        headers=sb.auth_headers(),
        timeout=60,
    )
    resp.raise_for_status()
    return {int(c["id"]): c for c in resp.json() if int(c["id"]) in ids}


def test_every_table_matches_truth(loaded: Loaded, sandbox: Sandbox) -> None:
    """The whole default selection, each field in its other types, loads in full."""
    assert documented_project()["plugins"]["extractors"][0]["select"] == next(
        p["select"] for p in project_plugins("extractors") if p["name"] == "tap-heymarket"
    )
    truth = sandbox.truth(custom=True)
    stats = loaded.stats()
    assert_matches_truth(stats, as_stored(loaded.name, truth))
    want = expected_tables(truth)
    got = {t: stats["tables"][t]["rows"] for t in sorted(want)}
    print(
        f"\n{loaded.name}: rows per table {got}; truth {dict(sorted(want.items()))}; "
        f"meltano run {TIMINGS.get(loaded.name, 0):.1f}s"
    )


def test_nul_contacts_load(loaded: Loaded, sandbox: Sandbox) -> None:
    """Every contact the sandbox gave a U+0000 is loaded, with U+FFFD in its place and no
    U+0000 left, in text columns and in the JSON ones alike."""
    nul_ids = nul_contact_ids(sandbox.truth())
    assert nul_ids, "the sandbox reports no contact with a U+0000 character"
    served = served_contacts(sandbox, nul_ids)
    assert set(served) == nul_ids
    got = loaded.contacts(sorted(nul_ids))
    assert set(got) == nul_ids, f"NUL contacts missing: {sorted(nul_ids - set(got))}"
    for cid, c in served.items():
        assert has_nul(c), f"contact {cid} is in nul_contacts but holds no U+0000"
        row = got[cid]
        text = json.dumps(row, ensure_ascii=False, default=str)
        for absent in (NUL, "\\u0000", "\\x00"):
            assert absent not in text, (loaded.name, cid, row)
        assert FFFD in text or "\\ufffd" in text, (loaded.name, cid, row)  # JSON text
        for f in NAMES:
            if isinstance(c.get(f), str) and NUL in c[f]:
                want = c[f].replace(NUL, FFFD)
                if loaded.name == PIPELINEWISE:
                    want = pipelinewise_text(want)
                assert row[f] == want, (loaded.name, cid, f, row[f])
    print(f"\n{loaded.name}: {len(nul_ids)} contacts with U+0000 loaded, U+FFFD in its place")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(pytest.main([__file__, "-v"]))
