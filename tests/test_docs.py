"""The README's generated parts stay current, and every command the docs show is run."""

from __future__ import annotations

import json
import re
import subprocess

import pytest
import yaml

from heymarket_dev.doc_commands import (
    README_PATH_SECTION,
    SHELL_LANGUAGES,
    commands,
    doc_files,
    fill_placeholders,
    placeholders,
    section_blocks,
    shell_blocks,
)
from heymarket_dev.generated import settings_table
from heymarket_dev.meltano import json_properties, nul_safe_stream_maps
from heymarket_sandbox import SWITCHES
from tests.tap_runner import REPO_ROOT, clean_env

README = (REPO_ROOT / "README.md").read_text()


def _between(text: str, name: str) -> str:
    match = re.search(f"<!-- {name}:start -->\n(.*?)<!-- {name}:end -->", text, re.S)
    assert match, f"README lacks the {name} markers"
    return match.group(1)


def test_settings_table_matches_about() -> None:
    assert _between(README, "settings-table") == settings_table(), "run `make settings-table`"


def test_readme_lists_every_sandbox_switch() -> None:
    table = _between(README, "sandbox-switches")
    for name in SWITCHES:
        assert f"| `{name}` | `--{name.replace('_', '-')}` |" in table, name
    sandbox_doc = (REPO_ROOT / "docs" / "sandbox.md").read_text()
    assert table.strip() in sandbox_doc, "README and docs/sandbox.md switch tables differ"


def test_readme_leads_with_the_two_commands() -> None:
    head = README.split("## ", 1)[0]
    assert "make demo" in head and "make test" in head
    assert "make test" in (REPO_ROOT / ".ci" / "run").read_text()


# --------------------------------------------------------------------------- doc commands
# Every shell command that README.md or docs/*.md shows is run by a test, or listed here as
# not runnable, with the reason. A new command in the docs fails this check until it is
# given one or the other.

README_PATH_TEST = "tests/test_readme_path.py::test_readme_path_on_a_fresh_copy"

#: Commands outside the README's "Running against the real API" section (that test runs
#: every block of the section as written) -> the test that runs them. For the sandbox's CLI
#: the test runs the same program with the arguments a test can use (`--port 0`, a free
#: port, instead of 8765; concrete switches instead of `[switches]`).
RUN_BY = {
    "make demo": README_PATH_TEST,
    "make unit": "tests/test_docs.py::test_make_unit_runs_only_fast_tests",
    ".venv/bin/python -m heymarket_sandbox --port 8765 --contacts 5000 --seed 1 [switches]": (
        "tests/test_sandbox.py::test_cli"
    ),
    "python -m heymarket_sandbox --port 8765 --contacts 5000 --seed 1 --cursor inclusive": (
        "tests/test_sandbox.py::test_cli"
    ),
    # README, "Deletes": run with the test's state id suffix, sandbox and warehouse.
    ".venv/bin/meltano schedule run heymarket-to-postgres-hourly": (
        "tests/test_deletes_warehouses.py::test_postgres_marks_exactly_the_deleted_rows"
    ),
    ".venv/bin/meltano schedule run heymarket-delete-sweep-weekly": (
        "tests/test_deletes_warehouses.py::test_postgres_marks_exactly_the_deleted_rows"
    ),
    "TAP_HEYMARKET_DETECT_DELETES=true .venv/bin/meltano run tap-heymarket target-duckdb": (
        "tests/test_deletes_warehouses.py::test_duckdb_documented_query_names_exactly_the_deleted_rows"
    ),
}

_BENCH = (
    "the benchmark: minutes to tens of minutes of wall time per run on 2 cores, a measurement "
    "recorded in docs/benchmarks.md rather than a pass/fail check"
)
#: Commands no test runs, and why.
NOT_RUNNABLE = {
    "make lint": "CI runs it: `make test` (what .ci/run calls) runs `make lint` before the suite",
    "make test": "the whole suite, which CI (.ci/run) runs; a test cannot run the suite it is in",
    "make bench": _BENCH,
    'make bench BENCH_ARGS="--with-1m"': _BENCH,
    'make bench BENCH_ARGS="--rate-limited"': _BENCH,
    ".venv/bin/python scripts/bench.py --sizes 10000,100000 --repeat 2 --no-meltano --json "
    "out.json": _BENCH,
}


def _documented_commands() -> dict[str, list[str]]:
    """command -> where the docs show it (file:line)."""
    found: dict[str, list[str]] = {}
    for path in doc_files():
        for block in shell_blocks(path):
            for command in commands(block.text):
                found.setdefault(command, []).append(f"{path.name}:{block.line}")
    return found


def _readme_path_commands() -> set[str]:
    blocks = section_blocks(REPO_ROOT / "README.md", README_PATH_SECTION)
    return {c for b in blocks if b.language in SHELL_LANGUAGES for c in commands(b.text)}


def test_every_documented_command_is_run_or_excused() -> None:
    documented = _documented_commands()
    run_as_written = _readme_path_commands()
    assert "make venv && .venv/bin/meltano install" in run_as_written
    assert ".venv/bin/meltano config test tap-heymarket" in run_as_written
    assert RUN_BY.keys().isdisjoint(NOT_RUNNABLE), "a command is both run and excused"
    uncovered = {
        command: where
        for command, where in documented.items()
        if command not in run_as_written and command not in RUN_BY and command not in NOT_RUNNABLE
    }
    assert not uncovered, (
        "commands in the docs that no test runs; run them in a test and add them to RUN_BY "
        f"in tests/test_docs.py, or add them to NOT_RUNNABLE with the reason: {uncovered}"
    )
    stale = (RUN_BY.keys() | NOT_RUNNABLE.keys()) - documented.keys()
    assert not stale, f"tests/test_docs.py lists commands the docs no longer show: {stale}"


def test_the_tests_named_for_commands_exist() -> None:
    for command, test_id in [*RUN_BY.items(), ("(README section)", README_PATH_TEST)]:
        path, name = test_id.split("::")
        source = (REPO_ROOT / path).read_text()
        assert f"def {name}(" in source, f"{command!r}: {test_id} does not exist"


def test_readme_path_placeholders_are_fillable() -> None:
    """The fast half of tests/test_readme_path.py: every `...` is a NAME=... it can fill."""
    blocks = section_blocks(REPO_ROOT / "README.md", README_PATH_SECTION)
    names = {n for b in blocks if b.language in SHELL_LANGUAGES for n in placeholders(b.text)}
    fillable = {
        "TAP_HEYMARKET_API_SECRET_ID",
        "TAP_HEYMARKET_API_SECRET_KEY",
        "TARGET_POSTGRES_HOST",
        "TARGET_POSTGRES_PORT",
        "TARGET_POSTGRES_USER",
        "TARGET_POSTGRES_PASSWORD",
        "TARGET_POSTGRES_DATABASE",
    }
    assert names <= fillable, f"tests/test_readme_path.py has no value for {names - fillable}"
    for block in blocks:
        if block.language in SHELL_LANGUAGES:
            fill_placeholders(block.text, dict.fromkeys(fillable, "x"))


def test_meltano_config_subcommands_are_meltano_4s() -> None:
    """Meltano 4 reads `meltano config <subcommand> <plugin>`: `config test tap-heymarket`,
    never `config tap-heymarket test`."""
    for path in doc_files():
        text = path.read_text()
        for match in re.finditer(r"meltano config ([\w-]+)", text):
            assert match.group(1) in {"list", "print", "set", "unset", "reset", "test"}, (
                f"{path.name}: `{match.group(0)}` is not a Meltano 4 command"
            )


# --------------------------------------------------------------------------- Postgres NULs


def _stream_schemas() -> dict[str, dict]:
    """Every stream schema the tap has: its schema files, overridden by the catalog."""
    schemas = {
        p.stem: json.loads(p.read_text())
        for p in (REPO_ROOT / "tap_heymarket" / "schemas").glob("*.json")
    }
    catalog = json.loads((REPO_ROOT / "catalog" / "catalog.json").read_text())
    schemas.update({s["tap_stream_id"]: s["schema"] for s in catalog["streams"]})
    return schemas


def test_postgres_loader_replaces_nul_in_every_column() -> None:
    """target-postgres cleans U+0000 from text columns itself, but from JSON columns only at
    the top level; meltano.yml must give it a stream map for every JSON column of every
    stream (docs/warehouses.md, "NUL characters")."""
    project = yaml.safe_load((REPO_ROOT / "meltano.yml").read_text())
    (loader,) = [p for p in project["plugins"]["loaders"] if p["name"] == "target-postgres"]
    values = {s["name"]: s.get("value") for s in loader["settings"]}
    assert values["sanitize_null_text_characters"] is True
    want = nul_safe_stream_maps(_stream_schemas())
    assert "contacts" in want and {"custom", "tags", "note"} <= set(want["contacts"])
    got = values["stream_maps"]
    missing = {s: sorted(set(m) - set(got.get(s, {}))) for s, m in want.items()}
    assert got == want, (
        "meltano.yml target-postgres stream_maps must map each JSON column with "
        f"heymarket_dev.meltano.NUL_SAFE_JSON_EXPR; missing: {missing}, "
        f"extra: { {s: sorted(set(m) - set(want.get(s, {}))) for s, m in got.items()} }"
    )
    assert json_properties({"properties": {"a": {"type": ["array", "null"]}}}) == ["a"]


@pytest.mark.slow
def test_make_unit_runs_only_fast_tests() -> None:
    """`make unit`, as the README shows it: passes, and leaves out every `slow` test."""
    proc = subprocess.run(
        ["make", "unit"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        env=clean_env(),
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    summary = next(line for line in reversed(proc.stdout.splitlines()) if " passed" in line)
    assert " passed" in summary and "deselected" in summary and "failed" not in summary, summary
