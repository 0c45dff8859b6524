"""The README's "Running against the real API", run as written, on a fresh copy of the repo.

A new user clones the repository and types the commands of that section. This test does the
same, with a sandbox standing in for Heymarket:

1. copy the files a clone would hold (tracked plus untracked-but-not-ignored, as they are in
   the working tree now) to a temporary directory: no .venv, .meltano, state or output data;
2. take every `sh` block of the section, fill in only the `NAME=...` placeholders (sandbox
   credentials, the test's Postgres) and run them, in order, in one bash (`set -euo
   pipefail`), with `TAP_HEYMARKET_API_URL` pointing at the sandbox: `make venv`, `meltano
   install`, `meltano config test`, `meltano run` into DuckDB and Postgres each followed by
   the dbt package's build (`dbt-duckdb:build`, `dbt-postgres:build`), into JSON lines, and
   the plain Singer commands;
3. run the section's `sql` block on the DuckDB file the section names;
4. every table of every warehouse, the JSON-lines files and the Singer output hold exactly
   the sandbox's truth (its contacts include U+0000 characters, which the tap turns into
   U+FFFD: both warehouses hold U+FFFD);
5. every model the analytics issue names is built in both warehouses' analytics schema, with
   one row per message and per contact of the truth, and every dbt build passed;
6. `make demo` in the same copy prints RESULT: OK, into its own file.

The copy stands alone: its .venv comes from `make venv` (pip's cache makes that about 40 s),
its plugins from its own `meltano install`. Postgres: PGHOST's server, else a throwaway one
(scripts/postgres_ci.sh); the test loads into a schema heymarket_e2e_readme_*, dbt builds
into heymarket_e2e_readme_*_analytics (both private to this run), and it drops both.
"""

from __future__ import annotations

import collections
import json
import os
import re
import subprocess
import time
import uuid
from pathlib import Path

from heymarket_dev.doc_commands import (
    README_PATH_SECTION,
    SHELL_LANGUAGES,
    fill_placeholders,
    section_blocks,
)
from heymarket_dev.meltano import (
    DUCKDB_SCHEMA,
    ROOT,
    TABLES,
    clean_env,
    copy_worktree,
    run_logged,
    selected_streams,
    tail,
    truth_counts,
)
from heymarket_sandbox import SECRET_ID, SECRET_KEY, Sandbox
from tests.support.warehouse_truth import warehouse_rows

CONTACTS = 2000
SEED = 11
# A server that honours `page`: then every stream can be read in full (with `page` ignored,
# a tie group larger than the templates endpoint's 30 per answer cannot be, and the tap
# reports that loss: docs/paging-and-state.md, "How the tap pages").
SWITCHES = {
    "contacts": CONTACTS,
    "seed": SEED,
    "page": "one",
    "messages": 600,
    "conversations": 120,
    # Every field also in its other plausible JSON types (docs/sandbox.md, "Shapes").
    "shapes": "all",
}
TIMINGS: dict[str, float] = {}
#: The models the analytics issue (21) names, which the README's builds must leave in the
#: analytics schema of each warehouse (docs/analytics.md, "Models").
MODELS = (
    "heymarket__message_enhanced",
    "heymarket__conversation_metrics",
    "heymarket__inbox_daily",
    "heymarket__agent_daily",
    "heymarket__delivery_failures",
    "heymarket__broadcasts",
    "heymarket__opt_outs",
    "heymarket__contacts_daily",
    "heymarket__contact_custom_fields",
    "stg_heymarket__contact_channels",
)
#: The schema dbt-duckdb builds in (the utility's default), in the copy's own DuckDB file.
ANALYTICS_SCHEMA = "heymarket_analytics"


def new_user_env(extra: dict[str, str]) -> dict[str, str]:
    """The environment of someone who just cloned: none of our plugin, Meltano, libpq or
    virtualenv variables, no make nesting, and no PATH entry into this checkout."""
    env = clean_env(extra)
    for name in list(env):
        if name.startswith("PG") or name in {
            "VIRTUAL_ENV",
            "PYTHONPATH",
            "PYTHONHOME",
            "MAKEFLAGS",
            "MFLAGS",
            "MAKELEVEL",
        }:
            del env[name]
    path = [p for p in env.get("PATH", "").split(os.pathsep) if p and not p.startswith(str(ROOT))]
    env["PATH"] = os.pathsep.join(path or ["/usr/local/bin", "/usr/bin", "/bin"])
    env.update(extra)
    return env


def wh_query(copy: Path, kind: str, queries: list[str], env: dict[str, str], db: str = "") -> list:
    """Run SQL with the copy's own loader venv (scripts/wh_query.py); rows per query."""
    python = copy / ".meltano" / "loaders" / f"target-{kind}" / "venv" / "bin" / "python"
    database = copy / db if db else None
    script = copy / "scripts" / "wh_query.py"
    return warehouse_rows(kind, *queries, database=database, env=env, python=python, script=script)


#: Tables whose primary key is not `id`: the expression that counts distinct keys.
KEYS = {"contact_field_values": "CAST(contact_id AS VARCHAR) || '/' || field_id"}


def warehouse_counts(
    copy: Path, kind: str, schema: str, env: dict[str, str], db: str = ""
) -> dict[str, tuple[int, int]]:
    """(rows, distinct ids) of every table in `schema`."""
    (tables,) = wh_query(
        copy,
        kind,
        [
            "SELECT table_name FROM information_schema.tables "
            f"WHERE table_schema = '{schema}' ORDER BY table_name"
        ],
        env,
        db,
    )
    names = [t for (t,) in tables]
    results = wh_query(
        copy,
        kind,
        [
            f'SELECT count(*), count(DISTINCT {KEYS.get(t, "id")}) FROM "{schema}"."{t}"'
            for t in names
        ],
        env,
        db,
    )
    return {t: (r[0][0], r[0][1]) for t, r in zip(names, results, strict=True)}


def nul_rows(copy: Path, kind: str, table: str, ids: list[int], env: dict, db: str = "") -> dict:
    (rows,) = wh_query(
        copy,
        kind,
        [
            "SELECT id, display_name, first, last, custom, note FROM "
            f"{table} WHERE id IN ({', '.join(str(i) for i in ids)})"
        ],
        env,
        db,
    )
    return {int(r[0]): json.dumps(r[1:], ensure_ascii=False) for r in rows}


def drop_schema(copy: Path, schemas: list[str], env: dict[str, str]) -> None:
    """Drop the test's Postgres schemas, if the copy got as far as installing target-postgres."""
    python = copy / ".meltano" / "loaders" / "target-postgres" / "venv" / "bin" / "python"
    if python.exists():
        subprocess.run(
            [str(python), str(copy / "scripts" / "wh_query.py"), "postgres"],
            input=json.dumps([{"sql": f'DROP SCHEMA IF EXISTS "{s}" CASCADE'} for s in schemas]),
            capture_output=True,
            text=True,
            env=env,
            check=False,
        )


def test_readme_path_on_a_fresh_copy(tmp_path: Path, postgres_env: dict[str, str]) -> None:
    t_start = time.monotonic()
    copy = tmp_path / "tap-heymarket"
    copied = copy_worktree(copy)
    assert "README.md" in copied and "meltano.yml" in copied
    assert "output/.gitkeep" in copied, "output/ must be in the repository (DuckDB needs it)"
    for absent in (".git", ".venv", ".meltano", ".env", "state.json"):
        assert not (copy / absent).exists(), f"{absent} reached the fresh copy"
    assert [p.name for p in (copy / "output").iterdir()] == [".gitkeep"]
    TIMINGS["copy"] = time.monotonic() - t_start

    readme = copy / "README.md"
    blocks = section_blocks(readme, README_PATH_SECTION)
    shell = [b for b in blocks if b.language in SHELL_LANGUAGES]
    sql = [b for b in blocks if b.language == "sql"]
    assert shell and sql, "the section lost its shell or its SQL block"
    section_text = readme.read_text().split(f"## {README_PATH_SECTION}\n", 1)[1].split("\n## ")[0]
    duckdb_file = re.search(r"`duckdb (output/[\w.-]+\.duckdb)`", section_text)
    assert duckdb_file, "the section no longer says which DuckDB file to open"
    db = duckdb_file.group(1)
    selected = selected_streams(copy)

    pg_schema = f"heymarket_e2e_readme_{uuid.uuid4().hex[:10]}"
    pg_analytics = f"{pg_schema}_analytics"
    log = tmp_path / "readme-path.log"
    values = {
        "TAP_HEYMARKET_API_SECRET_ID": SECRET_ID,
        "TAP_HEYMARKET_API_SECRET_KEY": SECRET_KEY,
        "TARGET_POSTGRES_HOST": postgres_env.get("PGHOST", "127.0.0.1"),
        "TARGET_POSTGRES_PORT": postgres_env.get("PGPORT", "5432"),
        "TARGET_POSTGRES_USER": postgres_env.get("PGUSER", "postgres"),
        "TARGET_POSTGRES_PASSWORD": postgres_env.get("PGPASSWORD", ""),
        "TARGET_POSTGRES_DATABASE": postgres_env.get("PGDATABASE", "postgres"),
    }
    script = "set -euo pipefail\n" + "\n".join(fill_placeholders(b.text, values) for b in shell)
    query_env = {**new_user_env({}), **postgres_env}

    with Sandbox(process=True, log=tmp_path / "sandbox.log", **SWITCHES) as sb:
        truth = sb.truth(custom=True)
        env = new_user_env(
            {
                "TAP_HEYMARKET_API_URL": sb.url,
                # Only schemas named heymarket_e2e_* in a developer's own Postgres: the
                # load's, which dbt reads the raw tables from, and the models' own.
                "TARGET_POSTGRES_DEFAULT_TARGET_SCHEMA": pg_schema,
                "DBT_POSTGRES_SCHEMA": pg_analytics,
            }
        )
        t0 = time.monotonic()
        try:
            code = run_logged(
                ["bash", "-c", script], cwd=copy, env=env, log=log, timeout=1800
            ).returncode
            TIMINGS["readme_blocks"] = time.monotonic() - t0
            assert code == 0, f"the README's commands failed (exit {code}):\n{tail(log, 80)}"
            _check_loads(copy, db, sql, truth, selected, pg_schema, query_env, log)
            _check_models(copy, db, truth, pg_analytics, query_env, log)
        finally:
            drop_schema(copy, [pg_analytics, pg_schema], query_env)

    # make demo (the README's first command) in the same copy: its own sandbox, its own file.
    t0 = time.monotonic()
    warehouse_before = warehouse_counts(copy, "duckdb", DUCKDB_SCHEMA, query_env, db)
    demo = subprocess.run(
        ["make", "demo"],
        cwd=copy,
        env=new_user_env({}),
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=900,
        check=False,
    )
    TIMINGS["make_demo"] = time.monotonic() - t0
    assert demo.returncode == 0 and "RESULT: OK" in demo.stdout, demo.stdout + demo.stderr[-3000:]
    assert (copy / "output" / "sandbox.duckdb").exists()
    assert warehouse_counts(copy, "duckdb", DUCKDB_SCHEMA, query_env, db) == warehouse_before, (
        "make demo changed the real-data file"
    )
    TIMINGS["total"] = time.monotonic() - t_start
    print("readme path timings (s):", {k: round(v, 1) for k, v in TIMINGS.items()})


def _check_loads(
    copy: Path,
    db: str,
    sql: list,
    truth: dict,
    selected: set[str],
    pg_schema: str,
    query_env: dict[str, str],
    log: Path,
) -> None:
    text = log.read_text(errors="replace")
    assert "Plugin configuration is valid" in text, "meltano config test did not pass"
    want = {s: n for s, n in truth_counts(truth).items() if s in selected}
    assert set(TABLES) <= set(want), sorted(want)
    exact = {s: (n, n) for s, n in want.items()}

    # DuckDB: the section's SQL, as written, then every table against the truth.
    assert (copy / db).exists(), f"{db} was not written"
    for block in sql:
        statements = [s.strip() for s in block.text.split(";") if s.strip()]
        results = wh_query(copy, "duckdb", statements, query_env, db)
        for statement, rows in zip(statements, results, strict=True):
            counted = re.fullmatch(r"SELECT count\(\*\) FROM heymarket\.(\w+)", statement)
            if counted:
                assert rows == [[want[counted.group(1)]]], (statement, rows)
    assert warehouse_counts(copy, "duckdb", DUCKDB_SCHEMA, query_env, db) == exact
    assert warehouse_counts(copy, "postgres", pg_schema, query_env) == exact
    print(f"rows per table in DuckDB and Postgres, equal to the truth: {want}")

    # U+0000: every marked contact loaded, with U+FFFD in its place in both warehouses (the
    # tap's replace_nul_characters, on by default; docs/warehouses.md, "NUL characters").
    if "nul_contacts" in truth:
        nul_ids = sorted(int(i) for i in truth["nul_contacts"])
        assert nul_ids, "the sandbox reports no contact with a U+0000 character"
        duck = nul_rows(copy, "duckdb", "heymarket.contacts", nul_ids, query_env, db)
        pg = nul_rows(copy, "postgres", f'"{pg_schema}".contacts', nul_ids, query_env)
        assert set(duck) == set(pg) == set(nul_ids)
        for cid in nul_ids:
            for loaded in (duck[cid], pg[cid]):
                assert "\x00" not in loaded and "\\u0000" not in loaded, (cid, loaded)
                assert "\ufffd" in loaded or "\\ufffd" in loaded, (cid, loaded)  # JSON text
        print(f"contacts with U+0000 loaded: {len(nul_ids)} (U+FFFD in DuckDB and Postgres)")

    # target-jsonl: one file per stream in output/.
    jsonl: collections.Counter[str] = collections.Counter()
    for path in (copy / "output").glob("*.jsonl"):
        stream = re.fullmatch(r"([a-z_]+)-\d{8}T\d{6}\.jsonl", path.name)  # <stream>-<time>
        if stream:
            jsonl[stream.group(1)] += len(path.read_text().splitlines())
    assert dict(jsonl) == want, f"target-jsonl files: {dict(jsonl)}"

    # The plain Singer commands: the full sync, then the incremental one from its STATE.
    def records(name: str) -> collections.Counter[str]:
        found: collections.Counter[str] = collections.Counter()
        for line in (copy / "output" / name).read_text().splitlines():
            msg = json.loads(line)
            if msg["type"] == "RECORD":
                found[msg["stream"]] += 1
        return found

    # The discovered catalog selects every stream the tap offers.
    discovered = json.loads((copy / "output" / "catalog.json").read_text())["streams"]
    offered = {s["tap_stream_id"] for s in discovered}
    assert set(TABLES) <= offered
    full = records("sync.jsonl")
    want_all = {s: n for s, n in truth_counts(truth).items() if s in offered}
    assert dict(full) == want_all, f"tap-heymarket --catalog: {dict(full)}, truth {want_all}"
    state = json.loads((copy / "output" / "state.json").read_text())
    assert state["bookmarks"]["contacts"]["replication_key_value"]
    again = records("sync-2.jsonl")
    assert again["contacts"] < full["contacts"] / 10, f"--state run was not incremental: {again}"


def _check_models(
    copy: Path, db: str, truth: dict, pg_analytics: str, query_env: dict[str, str], log: Path
) -> None:
    """The dbt builds the README runs after the DuckDB and the Postgres load: both passed
    every model and test, and every model the issue names is in each analytics schema, with
    one row per message and per contact of the sandbox's truth."""
    builds = [
        line for line in log.read_text(errors="replace").splitlines() if "Done. PASS=" in line
    ]
    assert len(builds) == 2, f"expected the DuckDB and the Postgres dbt build: {builds}"
    for done in builds:
        assert "WARN=0 ERROR=0 SKIP=0" in done and int(done.split("PASS=")[1].split()[0]) > 50, done
    counts = truth_counts(truth)
    want = {"heymarket__message_enhanced": counts["messages"]}
    want["heymarket__contact_custom_fields"] = counts["contacts"]
    for kind, schema, database in (
        ("duckdb", ANALYTICS_SCHEMA, db),
        ("postgres", pg_analytics, ""),
    ):
        (names,) = wh_query(
            copy,
            kind,
            [f"SELECT table_name FROM information_schema.tables WHERE table_schema = '{schema}'"],
            query_env,
            database,
        )
        missing = set(MODELS) - {n for (n,) in names}
        assert not missing, f"{kind}: models not built in {schema}: {sorted(missing)}"
        rows = wh_query(
            copy,
            kind,
            [f'SELECT count(*) FROM "{schema}"."{m}"' for m in want],
            query_env,
            database,
        )
        got = {m: r[0][0] for m, r in zip(want, rows, strict=True)}
        assert got == want, (kind, got, want)
    print(f"dbt models in both warehouses: {len(MODELS)} named, rows equal to the truth: {want}")
