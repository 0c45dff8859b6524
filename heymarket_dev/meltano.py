"""Meltano runs against the sandbox, shared by scripts/demo.py, scripts/bench.py and the tests.

Standard library only: this runs in the project's .venv, which has meltano but not duckdb.
DuckDB files are read by scripts/duckdb_stats.py under the target-duckdb plugin's own venv.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MELTANO = ROOT / ".venv" / "bin" / "meltano"
TAP_EXE = ROOT / ".meltano" / "extractors" / "tap-heymarket" / "venv" / "bin" / "tap-heymarket"
DUCKDB_PYTHON = ROOT / ".meltano" / "loaders" / "target-duckdb" / "venv" / "bin" / "python"
DUCKDB_STATS = ROOT / "scripts" / "duckdb_stats.py"
TABLES = ("contacts", "contact_fields", "tags")

# Variables that would override meltano.yml for our plugins (env beats environment config).
_PLUGIN_ENV_PREFIXES = (
    "TAP_HEYMARKET_",
    "TARGET_DUCKDB_",
    "TARGET_POSTGRES_",
    "TARGET_JSONL_",
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
    with log.open("ab") as out:
        out.write(f"\n$ {' '.join(cmd)}\n".encode())
        out.flush()
        return subprocess.run(
            cmd,
            cwd=ROOT,
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
    database: Path, schema: str = "heymarket", since: str | None = None, revs: bool = False
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
