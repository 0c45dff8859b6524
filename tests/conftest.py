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

And what the suite needs to run in parallel (`make test` runs it with pytest-xdist,
`--dist loadgroup`; docs/testing.md, "What runs where"): the xdist groups that keep tests
sharing an expensive or order-dependent fixture, or the project's `.meltano/run/`, on one
worker, and the order that starts the longest work first.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import Any

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


def _run_dir(config: pytest.Config, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory private to this pytest run and shared by all its xdist workers: the parent
    of the workers' base temp directories (`.../pytest-N/popen-gwK`), else the base temp."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if hasattr(config, "workerinput") else base


@contextlib.contextmanager
def _exclusive(lock: Path) -> Generator[None]:
    """Hold an exclusive lock on `lock` (one process of the run at a time)."""
    with lock.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@pytest.fixture(scope="session")
def meltano_plugins(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """`meltano install` of every plugin in meltano.yml into .meltano/ (a few seconds warm).

    Once per run: under xdist the first worker to need the plugins installs them while the
    others wait on a file lock (two installs into one .meltano/ would break each other's
    venvs); each worker then checks the result itself."""
    shared = _run_dir(request.config, tmp_path_factory)
    done = shared / "meltano-install.done"
    log = shared / "meltano-install.log"
    with _exclusive(shared / "meltano-install.lock"):
        if done.exists() and done.read_text() != "ok":
            pytest.fail(f"meltano install failed in another worker:\n{tail(log)}", pytrace=False)
        if not done.exists():
            try:
                meltano_install(clean_env(), log=log)
            except BaseException:
                done.write_text("failed")
                raise
            done.write_text("ok")
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


# --------------------------------------------------------------------------- parallel runs

#: Modules that run Meltano in this repository's project (cwd = the repo root): Meltano
#: writes each plugin's config, catalog and state to fixed names under `.meltano/run/<plugin>/`
#: (`meltano run` and `schedule run` too), so two such runs at once would read each other's
#: files. One xdist group: they run one after another on one worker, as in a serial run.
MELTANO_PROJECT_MODULES = ("test_warehouses.py", "test_deletes_warehouses.py", "test_analytics.py")

#: The longest work first: `make test` passes `--no-loadscope-reorder`, so xdist hands out its
#: units (a group, or one ungrouped test) in the workers' collection order, and a long unit
#: handed out last would end the run alone. Node id prefixes, longest first, from
#: `--durations` (serial times in docs/testing.md); the other tests follow in their order.
LONGEST_FIRST = (
    "tests/e2e/test_deletes_warehouses.py",  # with test_warehouses.py: the meltano-project group
    "tests/e2e/test_warehouses.py",
    "tests/tap/test_reliability.py::test_kill_and_resume_twenty_trials",
    "tests/e2e/test_readme_path.py",
    "tests/e2e/test_make_unit.py::test_make_unit_runs_only_fast_tests",
    "tests/e2e/test_own_project.py",
    "tests/e2e/test_new_project.py",
    "tests/tap/test_conversations.py::test_kill_and_resume_loses_nothing",
    "tests/tap/test_reliability.py",
    "tests/tap/test_secrets.py",
    "tests/tap/test_deletes.py",
)


def _rank(item: pytest.Item) -> int:
    """Where LONGEST_FIRST puts a test: the index of its first matching prefix."""
    for n, prefix in enumerate(LONGEST_FIRST):
        if item.nodeid == prefix or item.nodeid.startswith(
            (f"{prefix}::", f"{prefix}[", f"{prefix}@")
        ):
            return n
    return len(LONGEST_FIRST)


def _xdist_group(item: pytest.Item) -> str | None:
    """The xdist group of a test, or None to let it run on any worker.

    The Meltano project's tests share one group (MELTANO_PROJECT_MODULES). Elsewhere, tests
    that share a module-scoped fixture of their module (a sandbox, a tap or Meltano run whose
    output several tests check) share a group, one per value of the module-scoped fixtures
    they are parametrized with: each group builds its fixtures once, as a serial run does, and
    sees them in the serial run's order (a test that mutates a module's sandbox still runs
    after the tests before it)."""
    module = item.nodeid.split("::")[0]  # the path: two layers may hold the same file name
    if item.path.name in MELTANO_PROJECT_MODULES:
        return "meltano-project"
    defs = item._fixtureinfo.name2fixturedefs  # private: pytest has no public accessor
    shared = sorted(
        name
        for name, fixturedefs in defs.items()
        if fixturedefs[-1].scope in ("module", "class")
        and fixturedefs[-1].baseid.startswith(module)
    )
    if not shared:
        return None
    params = getattr(item, "callspec", None)
    ids = [f"{n}={params.params[n]}" for n in shared if params and n in params.params]
    return f"{module}[{','.join(ids)}]" if ids else module


class WorkerOrder:
    """Under xdist only (a worker's collection): the longest work first, and each test's
    group written where the controller's scheduler (XdistGroups) reads it. A plugin of its
    own: this conftest's `pytest_collection_modifyitems` is the slow-by-folder hook."""

    @pytest.hookimpl(hookwrapper=True)
    def pytest_collection_modifyitems(
        self, config: pytest.Config, items: list[pytest.Item]
    ) -> Generator[None]:
        yield
        write_groups(config, items)


def write_groups(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Sort a worker's tests longest first and leave their groups for the scheduler."""
    workerinput = getattr(config, "workerinput", None)
    if workerinput is None:
        return
    items.sort(key=_rank)
    if GROUPS_DIR in workerinput:
        groups = {item.nodeid: g for item in items if (g := _xdist_group(item)) is not None}
        target = Path(workerinput[GROUPS_DIR]) / f"{workerinput['workerid']}.json"
        partial = target.with_suffix(".partial")
        partial.write_text(json.dumps(groups))
        partial.replace(target)


#: The workerinput key of the directory where workers leave their {node id: group} maps.
GROUPS_DIR = "heymarket_xdist_groups"


class XdistGroups:
    """`--dist loadgroup` with the groups of `_xdist_group`.

    pytest-xdist's own loadgroup marks a group by renaming the test (`<node id>@<group>`),
    which pytest 9.2 no longer lets a plugin do, so its groups are silently ignored. Here each
    worker writes its tests' groups to a file at collection, and the controller's scheduler
    (xdist's loadscope, with the group as the scope) reads them before handing out work."""

    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="heymarket-xdist-groups-"))

    def pytest_configure_node(self, node: Any) -> None:
        node.workerinput[GROUPS_DIR] = str(self.dir)

    def pytest_xdist_make_scheduler(self, config: pytest.Config, log: Any) -> Any:
        if config.getvalue("dist") != "loadgroup":
            return None
        from xdist.scheduler import LoadScopeScheduling

        groups_dir = self.dir

        class GroupScheduling(LoadScopeScheduling):
            groups: dict[str, str] | None = None

            def _split_scope(self, nodeid: str) -> str:
                if self.groups is None:  # first called once every worker has collected
                    self.groups = {}
                    for path in sorted(groups_dir.glob("*.json")):
                        self.groups.update(json.loads(path.read_text()))
                return self.groups.get(nodeid, nodeid)

        return GroupScheduling(config, log)

    def pytest_unconfigure(self, config: pytest.Config) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)


def pytest_configure(config: pytest.Config) -> None:
    if hasattr(config, "workerinput"):
        config.pluginmanager.register(WorkerOrder(), "heymarket-worker-order")
    elif config.pluginmanager.hasplugin("xdist"):
        config.pluginmanager.register(XdistGroups(), "heymarket-xdist-groups")
