"""Meltano runs against the sandbox, shared by scripts/demo.py, scripts/bench.py and the tests.

Standard library only: this runs in the project's .venv, which has meltano but not duckdb.
DuckDB files are read by scripts/duckdb_stats.py under the target-duckdb plugin's own venv.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shlex
import shutil
import subprocess
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
MELTANO = ROOT / ".venv" / "bin" / "meltano"
TAP_EXE = ROOT / ".meltano" / "extractors" / "tap-heymarket" / "venv" / "bin" / "tap-heymarket"
DUCKDB_PYTHON = ROOT / ".meltano" / "loaders" / "target-duckdb" / "venv" / "bin" / "python"
DUCKDB_STATS = ROOT / "scripts" / "duckdb_stats.py"
POSTGRES_CI = ROOT / "scripts" / "postgres_ci.sh"
TABLES = (
    "contacts",
    "contact_fields",
    "tags",
    "inboxes",
    "team_members",
    "templates",
    "surveys",
    "contact_field_values",
    "conversations",
    "messages",
)
#: target-duckdb's `filepath` in meltano.yml (default environment): a user's real data. The
#: file is not named like the schema (`heymarket`): DuckDB names the catalog after the file,
#: and `heymarket.contacts` would then be ambiguous (catalog.table or schema.table).
WAREHOUSE_DUCKDB = ROOT / "output" / "warehouse.duckdb"
#: The same loader in the `sandbox` environment (`make demo`): sandbox rows never land in
#: the file that holds real data.
SANDBOX_DUCKDB = ROOT / "output" / "sandbox.duckdb"
DUCKDB_SCHEMA = "heymarket"
#: The counts of the three original streams in a sandbox truth without `streams`.
_LEGACY_TRUTH_COUNTS = {
    "contacts": "count",
    "contact_fields": "contact_field_count",
    "tags": "tag_count",
}

# Variables that would override meltano.yml for our plugins (env beats environment config).
_PLUGIN_ENV_PREFIXES = (
    "TAP_HEYMARKET_",
    "TARGET_DUCKDB_",
    "TARGET_POSTGRES_",
    "TARGET_JSONL_",
    "TARGET_CSV_",
    "MELTANO_",
)


def clean_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """os.environ minus anything that configures Meltano or our plugins, plus `extra`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(_PLUGIN_ENV_PREFIXES)}
    env["MELTANO_SEND_ANONYMOUS_USAGE_STATS"] = "false"
    env["NO_COLOR"] = "1"
    env.update(extra or {})
    return env


def meltano_cmd(*args: str, env_file: Path) -> list[str]:
    """A meltano command line that reads `env_file` instead of the project's .env."""
    return [str(MELTANO), "--env-file", str(env_file), *args]


def plugins_installed() -> bool:
    if not (TAP_EXE.exists() and DUCKDB_PYTHON.exists()):
        return False
    probe = subprocess.run(
        [str(DUCKDB_PYTHON), "-c", "import duckdb, target_duckdb"],
        capture_output=True,
        check=False,
    )
    return probe.returncode == 0


def meltano_install(env: dict[str, str], log: Path | None = None) -> None:
    """`meltano install` (all plugins into .meltano/). Idempotent; a few seconds when warm."""
    with log.open("ab") if log else contextlib.nullcontext() as out:
        proc = subprocess.run(
            [str(MELTANO), "install"],
            cwd=ROOT,
            env=env,
            stdout=out if out else subprocess.PIPE,
            stderr=subprocess.STDOUT,
            check=False,
        )
    if proc.returncode != 0:
        detail = proc.stdout.decode(errors="replace")[-4000:] if proc.stdout else f"see {log}"
        raise RuntimeError(f"meltano install failed ({proc.returncode}):\n{detail}")


def meltano_run(
    *,
    env: dict[str, str],
    env_file: Path,
    log: Path,
    state_id_suffix: str | None = None,
    full_refresh: bool = False,
    timeout: float = 900,
    loader: str = "target-duckdb",
) -> subprocess.CompletedProcess:
    """`meltano --environment=sandbox run tap-heymarket <loader>`, output appended to `log`.

    The state id is `sandbox:tap-heymarket-to-<loader>`, plus `:<state_id_suffix>` if given.
    """
    opts = [f"--state-id-suffix={state_id_suffix}"] if state_id_suffix else []
    if full_refresh:
        opts.append("--full-refresh")
    cmd = meltano_cmd(
        "--environment=sandbox", "run", *opts, "tap-heymarket", loader, env_file=env_file
    )
    return run_logged(cmd, cwd=ROOT, env=env, log=log, timeout=timeout)


def run_logged(
    cmd: Sequence[str], *, cwd: Path, env: dict[str, str], log: Path, timeout: float = 900
) -> subprocess.CompletedProcess:
    """`cmd` in `cwd`, its output (stdout and stderr) appended to `log` after a `$ cmd`
    line; no input, never raises on a non-zero exit (the caller reads `returncode`)."""
    with log.open("ab") as out:
        out.write(f"\n$ (in {cwd}) {shlex.join(cmd)}\n".encode())
        out.flush()
        return subprocess.run(
            list(cmd),
            cwd=cwd,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            timeout=timeout,
            check=False,
        )


def sandbox_state_id(loader: str = "target-duckdb", suffix: str | None = None) -> str:
    """The state id `meltano --environment=sandbox run tap-heymarket <loader>` uses."""
    return f"sandbox:tap-heymarket-to-{loader}" + (f":{suffix}" if suffix else "")


def duckdb_stats(
    database: Path, schema: str = DUCKDB_SCHEMA, since: str | None = None, revs: bool = False
) -> dict:
    """Row statistics of the DuckDB output (see scripts/duckdb_stats.py)."""
    cmd: Sequence[str] = [str(DUCKDB_PYTHON), str(DUCKDB_STATS), str(database), "--schema", schema]
    if since:
        cmd = [*cmd, "--since", since]
    if revs:
        cmd = [*cmd, "--revs"]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"reading {database} failed:\n{proc.stderr[-4000:]}")
    return json.loads(proc.stdout)


def tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


# --------------------------------------------------------------------------- sandbox truth


def truth_counts(truth: Mapping[str, Any]) -> dict[str, int]:
    """Rows per stream that a full sync of the sandbox must load, from its truth.

    `truth["streams"]` (`{name: {"count": n, "ids": {...}}}`) when the sandbox has it, else
    the counts of contacts, contact_fields and tags.
    """
    streams = truth.get("streams")
    if streams is None:
        return {name: int(truth[key]) for name, key in _LEGACY_TRUTH_COUNTS.items()}
    counts = {}
    for name, entry in streams.items():
        if isinstance(entry, Mapping) and "count" in entry:
            counts[name] = int(entry["count"])
        elif isinstance(entry, Mapping) and "ids" in entry:
            counts[name] = len(entry["ids"])
        else:
            raise ValueError(f"truth['streams'][{name!r}] has no count: {str(entry)[:200]}")
    return counts


def project_plugins(kind: str, root: Path = ROOT) -> list[dict[str, Any]]:
    """meltano.yml's plugins of one kind (`extractors`, `loaders`), as written."""
    import yaml  # PyYAML comes with meltano, in .venv

    project = yaml.safe_load((root / "meltano.yml").read_text())
    return list(project["plugins"][kind])


def plugin_executable(kind: str, name: str, root: Path = ROOT) -> Path:
    """Where `meltano install` puts the executable of meltano.yml's plugin `name`."""
    (plugin,) = [p for p in project_plugins(kind, root) if p["name"] == name]
    return root / ".meltano" / kind / name / "venv" / "bin" / plugin.get("executable", name)


def selected_streams(root: Path = ROOT) -> set[str]:
    """The streams `meltano run tap-heymarket ...` extracts: those of catalog/catalog.json
    (kept equal to the tap's discovery) that a `select` pattern in meltano.yml names."""
    import fnmatch

    import yaml  # PyYAML comes with meltano, in .venv

    project = yaml.safe_load((root / "meltano.yml").read_text())
    (tap,) = [e for e in project["plugins"]["extractors"] if e["name"] == "tap-heymarket"]
    patterns = [p.split(".", 1)[0] for p in tap.get("select", []) if not p.startswith("!")]
    catalog = json.loads((root / "catalog" / "catalog.json").read_text())
    offered = [s["tap_stream_id"] for s in catalog["streams"]]
    return {s for s in offered if any(fnmatch.fnmatchcase(s, p) for p in patterns)}


# --------------------------------------------------------------------------- Postgres server


class PostgresUnavailableError(RuntimeError):
    """Neither PGHOST nor the PostgreSQL binaries to start a throwaway server."""


@contextlib.contextmanager
def postgres_server() -> Iterator[dict[str, str]]:
    """libpq variables (PGHOST, PGPORT, ...) of a Postgres that tests may create schemas in.

    The configured server when PGHOST is set (`.ci/run` starts one), else a throwaway
    server started with scripts/postgres_ci.sh and stopped on exit.
    """
    names = ("PGHOST", "PGPORT", "PGUSER", "PGPASSWORD", "PGDATABASE")
    if os.environ.get("PGHOST"):
        yield {k: os.environ[k] for k in names if k in os.environ}
        return
    if not (shutil.which("initdb") or any(Path("/usr/lib/postgresql").glob("*/bin/initdb"))):
        raise PostgresUnavailableError(
            "No Postgres for the warehouse tests: set PGHOST (and PGPORT, PGUSER, PGPASSWORD, "
            "PGDATABASE) to a server these tests may create schemas in, or install the "
            "PostgreSQL binaries (apt-get install -y postgresql) so the tests start their own "
            "(`bash .ci/run` does both)."
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
        raise PostgresUnavailableError(
            f"starting a throwaway Postgres failed:\n{proc.stderr[-3000:]}"
        )
    try:
        env = dict(re.findall(r"^export (PG[A-Z]+)=(.*)$", proc.stdout, re.MULTILINE))
        yield env
    finally:
        subprocess.run(["bash", str(POSTGRES_CI), "stop", str(workdir)], check=False)
        shutil.rmtree(workdir, ignore_errors=True)


# --------------------------------------------------------------------------- a fresh clone


def copy_worktree(dest: Path, source: Path = ROOT) -> list[str]:
    """Copy what a clone of the working tree would hold: the files git tracks plus the
    untracked ones it does not ignore, as they are now (uncommitted changes included).

    No .git, .venv, .meltano, output data or state: what a new user starts from.
    """
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=source,
        capture_output=True,
        check=True,
    ).stdout.decode()
    copied = []
    for rel in sorted(set(filter(None, listed.split("\0")))):
        src = source / rel
        if not src.exists() and not src.is_symlink():
            continue  # deleted in the working tree, not yet in a commit
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, target, follow_symlinks=False)
        copied.append(rel)
    return copied
