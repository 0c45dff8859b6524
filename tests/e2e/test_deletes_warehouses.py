"""Deletes through Meltano into the warehouses, as docs/deletes.md documents them.

PostgreSQL (meltanolabs target-postgres): the project's two schedules run the one job
`heymarket-to-postgres` (`meltano schedule run <name>`), the sweep's with
TAP_HEYMARKET_DETECT_DELETES=true. A full sync; the sandbox deletes 7 contacts, 3 tags and
2 templates; a sweep while contacts change every other request marks exactly those 12 rows
(`_sdc_deleted_at`, every other column as it was) and no other; a sweep killed mid-walk and
one that fails on an API error mark nothing; the next sweep marks the later deletes too.
With `hard_delete` the rows are removed instead.

DuckDB (target-duckdb 0.8.0 ignores ACTIVATE_VERSION): the documented query over
`delete_sweeps` names exactly the deleted rows, and the documented view leaves them out.

Each test has its own Meltano system database (the state), state id suffix, empty env file,
and DuckDB file or Postgres schema (dropped afterwards), like tests/e2e/test_warehouses.py.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from heymarket_dev.meltano import (
    DUCKDB_PYTHON,
    ROOT,
    TAP_EXE,
    clean_env,
    meltano_cmd,
    tail,
)
from heymarket_sandbox import Sandbox
from tests.support.warehouse_truth import warehouse_rows

SWEPT = ("contacts", "tags", "templates")
PG_PYTHON = ROOT / ".meltano" / "loaders" / "target-postgres" / "venv" / "bin" / "python"
HOURLY = "heymarket-to-postgres-hourly"
SWEEP = "heymarket-delete-sweep-weekly"
#: Columns compared before and after a row is marked (its data must stay as it was).
DATA_COLUMNS = {
    "contacts": ("id", "rev", "display_name", "first", "last", "email", "phone", "updated"),
    "tags": ("id", "rev", "tag", "color", "updated"),
    "templates": ("id", "rev", "name", "updated", "archived"),
}


class Project:
    """The repository's meltano.yml with a private system database, state id and warehouse."""

    def __init__(self, tmp: Path, sandbox_url: str, kind: str, pg: dict[str, str]) -> None:
        self.kind = kind
        self.log = tmp / "meltano.log"
        self.env_file = tmp / "empty.env"
        self.env_file.write_text("")
        self.suffix = f"e2e-{uuid.uuid4().hex}"
        extra = {
            "HEYMARKET_SANDBOX_URL": sandbox_url,
            "MELTANO_DATABASE_URI": f"sqlite:///{tmp / 'meltano.db'}",
        }
        self.query_env = clean_env(pg)
        if kind == "duckdb":
            self.db = tmp / "warehouse.duckdb"
            self.schema = "heymarket"
            extra["TARGET_DUCKDB_FILEPATH"] = str(self.db)
        else:
            self.schema = f"heymarket_e2e_{uuid.uuid4().hex[:12]}"
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
        self.env = clean_env(extra)

    def command(self, *args: str) -> list[str]:
        return meltano_cmd("--environment=sandbox", *args, env_file=self.env_file)

    def schedule(self, name: str) -> list[str]:
        """`meltano schedule run <name>` (docs/deletes.md's command), with this test's state id."""
        return self.command("schedule", "run", name, f"--state-id-suffix={self.suffix}")

    def run_duckdb(self) -> list[str]:
        """`meltano run tap-heymarket target-duckdb`, with this test's state id."""
        return self.command(
            "run", f"--state-id-suffix={self.suffix}", "tap-heymarket", "target-duckdb"
        )

    def start(self, cmd: list[str], **env: str) -> subprocess.Popen[bytes]:
        with self.log.open("ab") as out:
            out.write(f"\n$ {' '.join(cmd)} {env}\n".encode())
            out.flush()
            return subprocess.Popen(
                cmd,
                cwd=ROOT,
                env={**self.env, **env},
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )

    def ok(self, cmd: list[str], **env: str) -> None:
        proc = self.start(cmd, **env)
        assert proc.wait(timeout=600) == 0, f"{cmd[3:]} failed:\n{tail(self.log, 60)}"

    def fails(self, cmd: list[str], **env: str) -> None:
        proc = self.start(cmd, **env)
        assert proc.wait(timeout=600) != 0, f"{cmd[3:]} should have failed:\n{tail(self.log, 60)}"

    def table(self, name: str) -> str:
        return f'"{self.schema}"."{name}"'

    def query(self, *queries: str) -> list[list[list[Any]]]:
        python = PG_PYTHON if self.kind == "postgres" else DUCKDB_PYTHON
        database = self.db if self.kind == "duckdb" else None
        return warehouse_rows(
            self.kind, *queries, database=database, env=self.query_env, python=python
        )

    def drop(self) -> None:
        if self.kind == "postgres":
            self.query(f'DROP SCHEMA IF EXISTS "{self.schema}" CASCADE')

    # ---- what the tables hold

    def marked(self) -> dict[str, set[int]]:
        """Per swept table, the ids of the rows with `_sdc_deleted_at` set."""
        results = self.query(
            *(f"SELECT id FROM {self.table(s)} WHERE _sdc_deleted_at IS NOT NULL" for s in SWEPT)
        )
        return {s: {int(r[0]) for r in rows} for s, rows in zip(SWEPT, results, strict=True)}

    def rows(self) -> dict[str, dict[int, list[Any]]]:
        """Per swept table, id -> the data columns, as strings."""
        results = self.query(
            *(f"SELECT {', '.join(DATA_COLUMNS[s])} FROM {self.table(s)}" for s in SWEPT)
        )
        return {
            s: {int(r[0]): [str(v) for v in r] for r in rows}
            for s, rows in zip(SWEPT, results, strict=True)
        }


def truth_ids(sb: Sandbox) -> dict[str, set[int]]:
    streams = sb.truth()["streams"]
    return {s: {int(i) for i in streams[s]["ids"]} for s in SWEPT}


def delete(sb: Sandbox, contacts: int, tags: int, templates: int) -> dict[str, set[int]]:
    return {
        "contacts": set(sb.delete("contacts", contacts)),
        "tags": set(sb.delete("tags", tags)),
        "templates": set(sb.delete("templates", templates)),
    }


def union(a: dict[str, set[int]], b: dict[str, set[int]]) -> dict[str, set[int]]:
    return {s: a[s] | b[s] for s in SWEPT}


def _session_processes(sid: int) -> list[tuple[int, str]]:
    """(pid, command line) of the processes in session `sid` (Linux /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        fields = stat[stat.rfind(")") + 2 :].split()
        if int(fields[3]) == sid:  # field 6 of stat: the session id
            found.append((int(entry.name), cmdline))
    return found


def _contacts_requests(sb: Sandbox) -> int:
    return sum(sb.stats()["by_path"].get("/v1/contacts", {}).values())


def _wait_for_requests(sb: Sandbox, at_least: int, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 300
    while _contacts_requests(sb) < at_least:
        assert proc.poll() is None, "the sweep ended before it was interrupted"
        assert time.monotonic() < deadline, "the sweep never reached the contacts walk"
        time.sleep(0.05)


@pytest.mark.filterwarnings("ignore::ResourceWarning")
def test_postgres_marks_exactly_the_deleted_rows(
    meltano_plugins: None, postgres_env: dict[str, str], tmp_path: Path
) -> None:
    with Sandbox(contacts=3000, seed=17) as sb:
        project = Project(tmp_path, sb.url, "postgres", postgres_env)
        try:
            _postgres_scenario(sb, project)
        finally:
            project.drop()


def _postgres_scenario(sb: Sandbox, project: Project) -> None:
    # 1. The regular job: a full sync.
    project.ok(project.schedule(HOURLY))
    before = project.rows()
    assert {s: set(before[s]) for s in SWEPT} == truth_ids(sb)
    assert project.marked() == {s: set() for s in SWEPT}

    # 2. 7 contacts, 3 tags, 2 templates deleted; the sweep runs while contacts change.
    first = delete(sb, 7, 3, 2)
    sb.configure(mutate_every=2, mutate_count=5, create_count=1, mutate_templates=1)
    mutations = sb.stats()["mutations"]
    project.ok(project.schedule(SWEEP))
    sb.configure(mutate_every=0)
    assert sb.stats()["mutations"] - mutations >= 3, "contacts should have changed meanwhile"
    assert project.marked() == first
    after = project.rows()
    live = truth_ids(sb)
    for stream in SWEPT:
        # The marked rows keep every column as it was; every record that exists has a row.
        assert {i: after[stream][i] for i in first[stream]} == {
            i: before[stream][i] for i in first[stream]
        }
        assert set(after[stream]) == live[stream] | first[stream]
    (sweeps,) = project.query(f"SELECT stream, version FROM {project.table('delete_sweeps')}")
    assert {s for s, _ in sweeps} == set(SWEPT)
    (versions,) = project.query(
        f"SELECT DISTINCT _sdc_table_version FROM {project.table('contacts')} "
        "WHERE _sdc_deleted_at IS NULL"
    )
    assert versions == [[sweeps[0][1]]], "every live row was rewritten with the sweep's version"

    # 3. More deletes; a sweep killed mid-walk marks nothing.
    second = delete(sb, 3, 1, 1)
    sb.configure(latency_ms=40)
    sb.reset_stats()
    proc = project.start(project.schedule(SWEEP), TAP_HEYMARKET_PAGE_SIZE="100")
    try:
        _wait_for_requests(sb, 6, proc)
        taps = [p for p, cmd in _session_processes(proc.pid) if str(TAP_EXE) in cmd]
        assert taps, "no tap process under the meltano run"
        for pid in taps:
            os.kill(pid, signal.SIGKILL)
        served = _contacts_requests(sb)
        assert proc.wait(timeout=300) != 0, "the killed run should fail"
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert served < 3000 / 100, "the kill should come mid-walk"
    assert project.marked() == first, "a killed sweep must mark nothing"

    # 4. A sweep that fails on an API error (no retries) marks nothing.
    sb.reset_stats()
    watcher = threading.Thread(target=_fail_after, args=(sb, 4), daemon=True)
    watcher.start()
    project.fails(
        project.schedule(SWEEP), TAP_HEYMARKET_PAGE_SIZE="100", TAP_HEYMARKET_MAX_RETRIES="0"
    )
    watcher.join(10)
    sb.configure(force_status=0, latency_ms=0)
    assert "503" in tail(project.log, 400)
    assert project.marked() == first, "a failed sweep must mark nothing"

    # 5. The next sweep continues the interrupted one (same state id: Meltano kept the
    # failed runs' last STATE) and marks the later deletes too; a regular run afterwards
    # changes nothing.
    sb.configure(latency_ms=250)
    sb.reset_stats()
    offset = project.log.stat().st_size
    proc = project.start(project.schedule(SWEEP), TAP_HEYMARKET_PAGE_SIZE="100")
    _wait_for_requests(sb, 2, proc)
    # Both schedules run one job, so one state id: Meltano refuses to start one while the
    # other runs (a regular run's rows, written during a sweep, would carry no version).
    project.fails(project.schedule(HOURLY))
    assert "pipeline is already running" in tail(project.log, 40)
    assert proc.wait(timeout=600) == 0, tail(project.log, 60)
    sb.configure(latency_ms=0)
    log = project.log.read_bytes()[offset:].decode(errors="replace")
    assert "contacts: continuing the unfinished delete sweep" in log
    everything = union(first, second)
    assert project.marked() == everything
    project.ok(project.schedule(HOURLY))
    assert project.marked() == everything
    final = project.rows()
    for stream in SWEPT:
        assert {i: final[stream][i] for i in everything[stream]} == {
            i: before[stream][i] for i in everything[stream]
        }


def _fail_after(sb: Sandbox, served: int) -> None:
    deadline = time.monotonic() + 300
    while _contacts_requests(sb) < served and time.monotonic() < deadline:
        time.sleep(0.02)
    sb.configure(force_status=503)


def test_postgres_hard_delete_removes_the_rows(
    meltano_plugins: None, postgres_env: dict[str, str], tmp_path: Path
) -> None:
    with Sandbox(contacts=1500, seed=18) as sb:
        project = Project(tmp_path, sb.url, "postgres", postgres_env)
        try:
            project.ok(project.schedule(HOURLY))
            delete(sb, 7, 3, 2)
            project.ok(project.schedule(SWEEP), TARGET_POSTGRES_HARD_DELETE="true")
            rows = project.rows()
            assert {s: set(rows[s]) for s in SWEPT} == truth_ids(sb)
            assert project.marked() == {s: set() for s in SWEPT}
        finally:
            project.drop()


def _documented_duckdb_sql() -> tuple[str, str]:
    """The DuckDB query and view of docs/warehouses.md ("Deletes"), as written."""
    text = (ROOT / "docs" / "warehouses.md").read_text()
    section = text.split("### Deletes in DuckDB", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```sql\n(.*?)```", section, re.S)
    assert len(blocks) == 2, "docs/warehouses.md: expected the query and the view"
    query, view = (b.strip().rstrip(";") for b in blocks)
    assert "heymarket.contacts" in query and "CREATE OR REPLACE VIEW" in view
    return query, view


def test_duckdb_documented_query_names_exactly_the_deleted_rows(
    meltano_plugins: None, tmp_path: Path
) -> None:
    query, view = _documented_duckdb_sql()
    with Sandbox(contacts=2000, seed=19) as sb:
        project = Project(tmp_path, sb.url, "duckdb", {})
        project.ok(project.run_duckdb())
        gone = delete(sb, 7, 3, 2)
        sb.configure(mutate_every=2, mutate_count=4, create_count=1)
        project.ok(project.run_duckdb(), TAP_HEYMARKET_DETECT_DELETES="true")
        sb.configure(mutate_every=0)
        live = truth_ids(sb)
        # A regular run after the sweep: its rows are newer than the sweep, never flagged.
        sb.mutate(n=5, new=2)
        project.ok(project.run_duckdb())
        live_now = truth_ids(sb)
    assert live_now["contacts"] >= live["contacts"]
    # target-duckdb ignored ACTIVATE_VERSION: the rows are all there, none marked.
    rows = project.rows()
    assert {s: set(rows[s]) for s in SWEPT} == union(live_now, gone)
    assert project.marked() == {s: set() for s in SWEPT}
    results = project.query(*(query.replace("contacts", s) for s in SWEPT))
    found = {s: {int(r[0]) for r in res} for s, res in zip(SWEPT, results, strict=True)}
    assert found == gone
    # The view, created as documented, holds exactly the records that exist.
    script = (
        "import duckdb, json, sys\n"
        "con = duckdb.connect(sys.argv[1])\n"
        "con.execute(sys.argv[2])\n"
        "print(json.dumps([r[0] for r in con.execute("
        "'SELECT id FROM heymarket.contacts_live').fetchall()]))\n"
    )
    proc = subprocess.run(
        [str(DUCKDB_PYTHON), "-c", script, str(project.db), view],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert set(json.loads(proc.stdout)) == live_now["contacts"]
