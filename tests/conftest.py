"""Test-wide guards: no real credentials, no network, warnings are errors.

The SDK's test factory reads `TAP_HEYMARKET_*` variables and `.env` when it builds the
tap at collection time. Strip them here, before any test module is imported, so a
developer's real credentials can never reach a test or a request.

The tests live in four folders, one per layer (docs/testing.md, "What runs where"):
tests/unit/ and tests/sandbox/ run in process; every test under tests/tap/ (the tap's CLI
as a subprocess) and tests/e2e/ (Meltano, warehouses, `make`) is marked `slow` here, by its
folder, so `make unit` (`-m "not slow"`) leaves them out. No test file marks itself.

Also the session's shared fixtures for the Meltano end-to-end tests (tests/e2e/test_warehouses.py,
tests/e2e/test_own_project.py): one `meltano install` and one Postgres per session.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from heymarket_dev.meltano import (
    TAP_EXE,
    PostgresUnavailableError,
    clean_env,
    meltano_install,
    plugin_executable,
    postgres_server,
    project_plugins,
    tail,
)

for _name in list(os.environ):
    if _name.startswith(("TAP_HEYMARKET_", "TARGET_DUCKDB_", "TARGET_JSONL_")):
        del os.environ[_name]

#: The folders whose every test is `slow`: the tap as a subprocess, Meltano and warehouses.
SLOW_FOLDERS = tuple(Path(__file__).resolve().parent / name for name in ("tap", "e2e"))


@pytest.hookimpl(tryfirst=True)  # before `-m` deselects by marker
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark `slow` every test under tests/tap/ and tests/e2e/, and no other."""
    for item in items:
        path = item.path.resolve()
        if any(path.is_relative_to(folder) for folder in SLOW_FOLDERS):
            item.add_marker(pytest.mark.slow)


#: Loaders whose venv the tests also query the warehouse with: the modules it must import.
LOADER_DRIVERS = {
    "target-duckdb": "duckdb, target_duckdb",
    "target-postgres": "psycopg, target_postgres",
}


@pytest.fixture(scope="session")
def postgres_env() -> Iterator[dict[str, str]]:
    """libpq variables of a Postgres to load into: the configured one, or a throwaway one."""
    try:
        with postgres_server() as env:
            yield env
    except PostgresUnavailableError as exc:
        pytest.fail(str(exc), pytrace=False)


@pytest.fixture(scope="session")
def meltano_plugins(tmp_path_factory: pytest.TempPathFactory) -> None:
    """`meltano install` of every plugin in meltano.yml into .meltano/ (a few seconds warm)."""
    log = tmp_path_factory.mktemp("meltano-install") / "install.log"
    meltano_install(clean_env(), log=log)
    assert TAP_EXE.exists(), f"tap-heymarket missing after meltano install:\n{tail(log)}"
    for loader in project_plugins("loaders"):
        exe = plugin_executable("loaders", loader["name"])
        assert exe.exists(), f"{exe} missing after meltano install:\n{tail(log)}"
    for name, modules in LOADER_DRIVERS.items():
        python = plugin_executable("loaders", name).with_name("python")
        probe = subprocess.run(
            [str(python), "-c", f"import {modules}"], capture_output=True, check=False
        )
        assert probe.returncode == 0, f"{name} missing after meltano install:\n{tail(log)}"
