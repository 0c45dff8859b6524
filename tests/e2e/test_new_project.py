"""A brand-new Meltano project outside the repository, made as the README's install section
says, then a second Heymarket team in it as docs/meltano.md says.

A data engineer adds the tap to a project of their own. This test does what they do, with
sandboxes standing in for Heymarket:

1. copy the repository as a fresh clone holds it to `<tmp>/tap-heymarket` (the checkout
   the section names), and put only Meltano (the repository's, as a user's own
   `pipx install meltano` would be) and the system's directories on the `PATH`;
2. run the shell blocks of README.md's "Install into your own Meltano project" as written, in
   `<tmp>`, filling in only the `meltano config set ... ...` values (the sandbox's
   credentials) and with `TAP_HEYMARKET_API_URL` pointing at sandbox A: the tap in a venv of
   its own (`--about`), `meltano init`, `meltano add --from-ref` of the plugin definition,
   the selection, the credentials and `meltano config test`;
3. paste the section's loader block under `plugins:` (its `pip_url` swapped for the
   executable `meltano install` put in this repository's .meltano/ from the same pin, so
   nothing is installed twice), then run its last block: `meltano install` and the first
   `meltano run tap-heymarket target-duckdb`;
4. every table holds sandbox A's truth, and contact_status neither ran (no status request
   reached the sandbox) nor has a table;
5. the blocks of docs/meltano.md's "Several Heymarket teams in one project": team B inherits
   the extractor and the loader, with its own credentials (sandbox B accepts only those) and
   its own DuckDB file; the two `meltano run` commands run at the same time;
6. each warehouse holds its own team's truth, and each state id holds its own team's
   contacts bookmark (the newest `updated` of its own sandbox).
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from heymarket_dev.doc_commands import (
    INSTALL_SECTION,
    SHELL_LANGUAGES,
    TEAMS_DOC,
    TEAMS_SECTION,
    commands,
    fill_placeholders,
    section_blocks,
)
from heymarket_dev.meltano import (
    DUCKDB_SCHEMA,
    MELTANO,
    ROOT,
    clean_env,
    copy_worktree,
    plugin_executable,
    project_plugins,
    run_logged,
    tail,
    truth_counts,
)
from heymarket_sandbox import SECRET_ID, SECRET_KEY, Sandbox
from tap_heymarket.timestamps import normalize
from tests.support.contact_status import status_requests
from tests.support.warehouse_truth import FIELD_VALUES, assert_field_values_match, warehouse_rows

TEAM_A = {"contacts": 900, "seed": 31, "messages": 300, "conversations": 60}
TEAM_B_ID, TEAM_B_KEY = "team-b-secret-id", "team-b-secret-key"
TEAM_B = {"contacts": 600, "seed": 32, "messages": 200, "conversations": 40}
TEAM_B_SCHEMA = "heymarket_team_b"
#: Streams with no rows in a run that sweeps nothing, and the costly one left out.
NOT_LOADED = {"delete_sweeps", "contact_status"}
#: Tables whose primary key is not `id`: the expression of their key.
KEYS = {"contact_field_values": "CAST(contact_id AS VARCHAR) || '/' || field_id"}


def user_env(tmp: Path, extra: dict[str, str]) -> dict[str, str]:
    """A user's shell: Meltano and the system on the PATH, nothing of this checkout, none of
    our plugin, Meltano or virtualenv variables."""
    bin_dir = tmp / "bin"
    bin_dir.mkdir(exist_ok=True)
    if not (bin_dir / "meltano").exists():
        (bin_dir / "meltano").symlink_to(MELTANO)
    env = clean_env(extra)
    for name in ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME", "MAKEFLAGS", "MFLAGS", "MAKELEVEL"):
        env.pop(name, None)
    env["PATH"] = os.pathsep.join([str(bin_dir), "/usr/local/bin", "/usr/bin", "/bin"])
    return env


def run_block(script: str, cwd: Path, env: dict[str, str], log: Path) -> None:
    code = run_logged(
        ["bash", "-c", "set -euo pipefail\n" + script], cwd=cwd, env=env, log=log, timeout=1200
    ).returncode
    assert code == 0, f"the documented commands failed (exit {code}):\n{tail(log, 80)}"


def paste_loader(project: Path, block: str) -> None:
    """The section's loader block under `plugins:`, `pip_url` swapped for the executable
    installed in this repository from the same pin."""
    pasted = yaml.safe_load(block)["loaders"]
    ours = {p["name"]: p for p in project_plugins("loaders")}
    for loader in pasted:
        assert loader.pop("pip_url") == ours[loader["name"]]["pip_url"], "not the tested pin"
        loader["executable"] = str(plugin_executable("loaders", loader["name"]))
    path = project / "meltano.yml"
    doc = yaml.safe_load(path.read_text())
    doc["plugins"]["loaders"] = [*doc["plugins"].get("loaders", []), *pasted]
    path.write_text(yaml.safe_dump(doc, sort_keys=False))


def meltano(project: Path, env: dict[str, str], *args: str) -> str:
    proc = subprocess.run(
        ["meltano", *args],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    return proc.stdout


def query(database: Path, *sql: str) -> list[list[list]]:
    """Rows per query, read with the Python of this repository's target-duckdb venv."""
    return warehouse_rows("duckdb", *sql, database=database)


def assert_holds_truth(database: Path, schema: str, truth: dict[str, Any], offered: set) -> str:
    """Every table of `schema` has the truth's rows, one per key; the contacts their revs.
    Returns the newest `updated` of the loaded contacts, in the tap's bookmark form."""
    ((tables),) = query(
        database,
        f"SELECT table_name FROM information_schema.tables WHERE table_schema = '{schema}'",
    )
    names = sorted(name for (name,) in tables)
    results = query(
        database,
        *[
            f'SELECT count(*), count(DISTINCT {KEYS.get(n, "id")}) FROM "{schema}"."{n}"'
            for n in names
        ],
        f'SELECT CAST(id AS BIGINT), CAST(rev AS BIGINT) FROM "{schema}".contacts',
        f'SELECT CAST(max(updated) AS VARCHAR) FROM "{schema}".contacts',
        f'SELECT CAST(contact_id AS BIGINT), field_id, value FROM "{schema}".{FIELD_VALUES}',
    )
    loaded = {n: tuple(r[0]) for n, r in zip(names, results, strict=False)}
    want = {s: (n, n) for s, n in truth_counts(truth).items() if s in offered - NOT_LOADED}
    # A value cleared since the first run stays as a row with a null value (docs/streams.md).
    rows, keys = loaded.pop(FIELD_VALUES)
    assert rows == keys >= want.pop(FIELD_VALUES)[0], f"{database.name}: {FIELD_VALUES} {rows}"
    assert_field_values_match({f"{c}/{f}": v for c, f, v in results[-1]}, truth)
    assert loaded == want, f"{database.name}: {loaded}, truth {want}"
    revs = {str(i): rev for i, rev in results[len(names)]}
    assert revs == {str(k): v for k, v in truth["contacts"].items()}, "contact revs differ"
    ((newest,),) = results[len(names) + 1]
    return normalize(datetime.fromisoformat(newest).replace(tzinfo=UTC))


def contacts_bookmark(project: Path, env: dict[str, str], state_id: str) -> str:
    state = json.loads(meltano(project, env, "state", "get", state_id))
    return state["singer_state"]["bookmarks"]["contacts"]["replication_key_value"]


@pytest.mark.usefixtures("meltano_plugins")
def test_a_new_project_as_the_readme_says_then_a_second_team(tmp_path: Path) -> None:
    t_start = time.monotonic()
    copy_worktree(tmp_path / "tap-heymarket")
    readme = tmp_path / "tap-heymarket" / "README.md"
    blocks = section_blocks(readme, INSTALL_SECTION)
    shell = [b.text for b in blocks if b.language in SHELL_LANGUAGES]
    (loader_block,) = [b.text for b in blocks if b.language == "yaml"]
    assert len(shell) == 3, "the section's blocks: the tap alone, the project, the first run"
    teams = [b.text for b in section_blocks(TEAMS_DOC, TEAMS_SECTION)]
    assert len(teams) == 2, "the teams section's blocks: the second team, the two runs"
    project = tmp_path / "my-project"
    log = tmp_path / "commands.log"
    catalog = yaml.safe_load((ROOT / "catalog" / "catalog.json").read_text())
    offered = {s["tap_stream_id"] for s in catalog["streams"]}
    values = {
        "tap-heymarket api_secret_id": SECRET_ID,
        "tap-heymarket api_secret_key": SECRET_KEY,
        "tap-heymarket--team-b api_secret_id": TEAM_B_ID,
        "tap-heymarket--team-b api_secret_key": TEAM_B_KEY,
    }
    team_b = {**TEAM_B, "secret_id": TEAM_B_ID, "secret_key": TEAM_B_KEY}

    with (
        Sandbox(process=True, log=tmp_path / "sandbox-a.log", **TEAM_A) as a,
        Sandbox(process=True, log=tmp_path / "sandbox-b.log", **team_b) as b,
    ):
        env = user_env(
            tmp_path, {"TAP_HEYMARKET_API_URL": a.url, "TAP_HEYMARKET__TEAM_B_API_URL": b.url}
        )
        # The README's section: the tap alone, then the project up to `meltano config test`.
        run_block(fill_placeholders(shell[0], values), tmp_path, env, log)
        assert "tap-heymarket" in log.read_text() and "Heymarket contacts" in log.read_text()
        run_block(fill_placeholders(shell[1], values), tmp_path, env, log)
        assert "Plugin configuration is valid" in log.read_text()
        dot_env = (project / ".env").read_text()
        assert SECRET_KEY in dot_env and SECRET_KEY not in (project / "meltano.yml").read_text()
        paste_loader(project, loader_block)
        run_block(fill_placeholders(shell[2], values), project, env, log)

        warehouse_a = project / "output" / "warehouse.duckdb"
        assert_holds_truth(warehouse_a, DUCKDB_SCHEMA, a.truth(custom=True), offered)
        assert status_requests(a.stats()) == {}, "contact_status ran"

        # docs/meltano.md: a second team, its own credentials, loader and DuckDB file; the
        # two pairs run at the same time.
        run_block(fill_placeholders(teams[0], values), project, env, log)
        runs = commands(teams[1])
        assert len(runs) == 2 and all(r.startswith("meltano run ") for r in runs), runs
        a.mutate(n=20, new=5)
        logs = [tmp_path / f"run-{n}.log" for n in range(len(runs))]
        with contextlib.ExitStack() as stack:
            outs = [stack.enter_context(path.open("wb")) for path in logs]
            procs = [
                subprocess.Popen(
                    ["bash", "-c", run],
                    cwd=project,
                    env=env,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                )
                for run, out in zip(runs, outs, strict=True)
            ]
            codes = [p.wait(timeout=900) for p in procs]
        assert codes == [0, 0], [tail(path, 60) for path in logs]

        newest_a = assert_holds_truth(warehouse_a, DUCKDB_SCHEMA, a.truth(custom=True), offered)
        warehouse_b = project / "output" / "team-b.duckdb"
        newest_b = assert_holds_truth(warehouse_b, TEAM_B_SCHEMA, b.truth(custom=True), offered)
        assert newest_a != newest_b

        state_ids = meltano(project, env, "state", "list").split()
        pair_a = "dev:tap-heymarket-to-target-duckdb"
        pair_b = "dev:tap-heymarket--team-b-to-target-duckdb--team-b"
        assert sorted(state_ids) == sorted([pair_a, pair_b]), state_ids
        assert contacts_bookmark(project, env, pair_a) == newest_a
        assert contacts_bookmark(project, env, pair_b) == newest_b
    print(f"new project and a second team: {time.monotonic() - t_start:.0f} s")
