"""The README stays a front door whose links resolve, the docs' generated parts stay current,
and every command the docs show is run.

In process: the docs and meltano.yml as files. What compares them with the tap's own
`--about`: tests/tap/test_docs.py; `make unit` itself: tests/e2e/test_make_unit.py.
"""

from __future__ import annotations

import re
from pathlib import Path

from heymarket_dev.doc_commands import (
    INSTALL_SECTION,
    README_PATH_SECTION,
    SHELL_LANGUAGES,
    TEAMS_DOC,
    TEAMS_SECTION,
    commands,
    doc_files,
    documented_project,
    fill_placeholders,
    placeholders,
    section_blocks,
    shell_blocks,
)
from heymarket_sandbox import SWITCHES
from tests.support.docs_text import PROJECT, README, SANDBOX_DOC, TAP_PLUGIN, between
from tests.support.tap_runner import REPO_ROOT


def test_sandbox_doc_lists_every_sandbox_switch() -> None:
    table = between(SANDBOX_DOC, "sandbox-switches")
    for name in SWITCHES:
        assert f"| `{name}` | `--{name.replace('_', '-')}` |" in table, name
    rows = re.findall(r"^\| `(\w+)` \|", table, re.M)
    assert sorted(rows) == sorted(SWITCHES), "docs/sandbox.md lists a switch the sandbox lacks"


def test_readme_leads_with_the_two_commands() -> None:
    head = README.split("## ", 1)[0]
    assert "make demo" in head and "make test" in head
    assert "make test" in (REPO_ROOT / ".ci" / "run").read_text()


#: The README's sections, in this order: what a data engineer reads first. The deep
#: sections live in docs/ (the README's "Where to go next" links each file).
FRONT_DOOR_SECTIONS = [
    "Streams",
    "Running against the real API",
    "Settings",
    "Known limits",
    "Where to go next",
]
#: docs/*.md the README need not link, and why.
NOT_FOR_READERS = {
    "docs/pypi.md": "the package index's page (the long description), not a page of the docs",
}


def test_readme_is_a_front_door() -> None:
    lines = README.splitlines()
    assert len(lines) <= 300, f"README.md has {len(lines)} lines: move detail to docs/"
    headings = [line[3:].strip() for line in lines if line.startswith("## ")]
    assert [h for h in headings if h in FRONT_DOOR_SECTIONS] == FRONT_DOOR_SECTIONS, headings
    assert "<!-- install-section -->" in lines or any(h.startswith("Install") for h in headings)
    linked = {target.split("#", 1)[0] for _, target in _links(README)}
    unlinked = [
        f"docs/{p.name}"
        for p in sorted((REPO_ROOT / "docs").glob("*.md"))
        if f"docs/{p.name}" not in linked | NOT_FOR_READERS.keys()
    ]
    assert not unlinked, f"README.md does not link {unlinked}"


# --------------------------------------------------------------------------- links

_FENCE_BLOCK = re.compile(r"^ *(```|~~~).*?^ *\1[^\n]*$", re.M | re.S)
_CODE_SPAN = re.compile(r"`[^`]*`")
_LINK = re.compile(r"!?\[([^\]]*)\]\(([^)\s]+)\)")


def _prose(text: str) -> str:
    """text without fenced blocks, and each inline code span reduced to `x`: a `# comment`
    in a shell block is no heading, and `[a](b)` inside code is no link."""
    return _CODE_SPAN.sub("`x`", _FENCE_BLOCK.sub("", text))


def _links(text: str) -> list[tuple[str, str]]:
    """(text, target) of every inline Markdown link outside code."""
    return _LINK.findall(_prose(text))


def github_slug(heading: str) -> str:
    """The anchor GitHub gives a heading: its text as rendered (links reduced to their text,
    code marks and emphasis dropped), lowercased, every character but letters, digits,
    spaces, `-` and `_` dropped, each space a `-`."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading).lower()
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def anchors(text: str) -> set[str]:
    """Every heading anchor of a Markdown text; GitHub suffixes a repeated one -1, -2, ..."""
    found: set[str] = set()
    seen: dict[str, int] = {}
    for match in re.finditer(r"^#{1,6} +(.+?) *#*$", _FENCE_BLOCK.sub("", text), re.M):
        slug = github_slug(match.group(1))
        n = seen.get(slug, 0)
        seen[slug] = n + 1
        found.add(slug if n == 0 else f"{slug}-{n}")
    return found


def test_github_slug() -> None:
    assert github_slug("How the tap pages, and why nothing is lost") == (
        "how-the-tap-pages-and-why-nothing-is-lost"
    )
    assert github_slug("`contact_status` (not selected by default)") == (
        "contact_status-not-selected-by-default"
    )
    assert github_slug("NUL characters (U+0000)") == "nul-characters-u0000"
    assert github_slug("`contacts` — primary key `id`") == "contacts--primary-key-id"
    assert anchors("# A\n```sh\n# not a heading\n```\n## A\n") == {"a", "a-1"}


def test_relative_links_resolve() -> None:
    """Every link of README.md and docs/*.md that is not a web address names a file that
    exists (relative to the linking file), and its `#anchor` a heading of that file."""
    broken = []
    for path in doc_files():
        for _, target in _links(path.read_text()):
            if re.match(r"(https?|mailto):", target):
                continue
            file_part, _, anchor = target.partition("#")
            linked = (path.parent / file_part).resolve() if file_part else path
            where = f"{path.relative_to(REPO_ROOT)}: ({target})"
            if not linked.exists():
                broken.append(f"{where}: no such file")
            elif anchor and anchor not in anchors(linked.read_text()):
                broken.append(f"{where}: no heading #{anchor} in {linked.name}")
    assert not broken, "\n".join(broken)


# --------------------------------------------------------------------------- doc commands
# Every shell command that README.md or docs/*.md shows is run by a test, or listed here as
# not runnable, with the reason. A new command in the docs fails this check until it is
# given one or the other.

README_PATH_TEST = "tests/e2e/test_readme_path.py::test_readme_path_on_a_fresh_copy"

#: Commands outside the README's "Running against the real API" section (that test runs
#: every block of the section as written) -> the test that runs them. For the sandbox's CLI
#: the test runs the same program with the arguments a test can use (`--port 0`, a free
#: port, instead of 8765; its own switches).
RUN_BY = {
    "make demo": README_PATH_TEST,
    "make unit": "tests/e2e/test_make_unit.py::test_make_unit_runs_only_fast_tests",
    "python -m heymarket_sandbox --port 8765 --contacts 5000 --seed 1 --cursor inclusive": (
        "tests/sandbox/test_sandbox.py::test_cli"
    ),
    # docs/deletes.md, "Schedule": run with the test's state id suffix, sandbox and warehouse.
    ".venv/bin/meltano schedule run heymarket-to-postgres-hourly": (
        "tests/e2e/test_deletes_warehouses.py::test_postgres_marks_exactly_the_deleted_rows"
    ),
    ".venv/bin/meltano schedule run heymarket-delete-sweep-weekly": (
        "tests/e2e/test_deletes_warehouses.py::test_postgres_marks_exactly_the_deleted_rows"
    ),
    "TAP_HEYMARKET_DETECT_DELETES=true .venv/bin/meltano run tap-heymarket target-duckdb": (
        "tests/e2e/test_deletes_warehouses.py::test_duckdb_documented_query_names_exactly_the_deleted_rows"
    ),
    # docs/analytics.md: the load and the dbt build, against the test's own sandbox and file.
    ".venv/bin/meltano --environment=sandbox run tap-heymarket target-duckdb dbt-duckdb:build": (
        "tests/e2e/test_analytics.py::test_dbt_build_passes_every_model_and_test"
    ),
    # docs/analytics.md: the custom-fields model with the var given (the test's own fields).
    ".venv/bin/meltano invoke dbt-duckdb build --select heymarket__contact_custom_fields "
    '--vars \'{"heymarket_custom_fields": ["Company", "Loyalty tier"]}\'': (
        "tests/e2e/test_analytics.py::test_contact_custom_fields_equal_the_contacts_values"
    ),
    # docs/pypi.md (the index page): the installed wheel's own command.
    "tap-heymarket --about": (
        "tests/e2e/test_distribution.py::test_the_installed_wheel_runs_in_an_empty_venv"
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
    "make mutate": "mutation testing: the fast suite once per mutant, far too long for CI (its "
    "time is in docs/testing.md); its configuration is checked by tests/unit/test_project_files.py",
    "pipx install tap-heymarket": "docs/pypi.md, the index page: it works once the package is "
    "on an index; tests/e2e/test_distribution.py installs the wheel that page describes into "
    "an empty venv",
    ".venv/bin/python scripts/bench_shared_quota.py": _BENCH,
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


def _section_commands(path: Path, section: str) -> set[str]:
    blocks = section_blocks(path, section)
    return {c for b in blocks if b.language in SHELL_LANGUAGES for c in commands(b.text)}


def _readme_path_commands() -> set[str]:
    """What tests/e2e/test_readme_path.py and tests/e2e/test_new_project.py run as written:
    every shell block of the README's "Running against the real API" and "Install into your
    own Meltano project", and of docs/meltano.md's "Several Heymarket teams in one project"."""
    return (
        _section_commands(REPO_ROOT / "README.md", README_PATH_SECTION)
        | _section_commands(REPO_ROOT / "README.md", INSTALL_SECTION)
        | _section_commands(TEAMS_DOC, TEAMS_SECTION)
    )


def test_every_documented_command_is_run_or_excused() -> None:
    documented = _documented_commands()
    run_as_written = _readme_path_commands()
    assert "make venv && .venv/bin/meltano install" in run_as_written
    assert ".venv/bin/meltano config test tap-heymarket" in run_as_written
    assert "meltano config test tap-heymarket" in run_as_written  # the install section
    assert "meltano run tap-heymarket--team-b target-duckdb--team-b" in run_as_written
    assert RUN_BY.keys().isdisjoint(NOT_RUNNABLE), "a command is both run and excused"
    uncovered = {
        command: where
        for command, where in documented.items()
        if command not in run_as_written and command not in RUN_BY and command not in NOT_RUNNABLE
    }
    assert not uncovered, (
        "commands in the docs that no test runs; run them in a test and add them to RUN_BY "
        f"in tests/unit/test_docs.py, or add them to NOT_RUNNABLE with the reason: {uncovered}"
    )
    stale = (RUN_BY.keys() | NOT_RUNNABLE.keys()) - documented.keys()
    assert not stale, f"tests/unit/test_docs.py lists commands the docs no longer show: {stale}"


def test_the_tests_named_for_commands_exist() -> None:
    for command, test_id in [*RUN_BY.items(), ("(README section)", README_PATH_TEST)]:
        path, name = test_id.split("::")
        source = (REPO_ROOT / path).read_text()
        assert f"def {name}(" in source, f"{command!r}: {test_id} does not exist"


def test_readme_path_placeholders_are_fillable() -> None:
    """The fast half of tests/e2e/test_readme_path.py: every `...` is a NAME=... it can fill."""
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
    assert names <= fillable, f"tests/e2e/test_readme_path.py has no value for {names - fillable}"
    for block in blocks:
        if block.language in SHELL_LANGUAGES:
            fill_placeholders(block.text, dict.fromkeys(fillable, "x"))


def test_install_section_placeholders_are_fillable() -> None:
    """The fast half of tests/e2e/test_new_project.py: every `...` of the install section
    and of the teams section is a credential that test fills in."""
    blocks = [
        *section_blocks(REPO_ROOT / "README.md", INSTALL_SECTION),
        *section_blocks(TEAMS_DOC, TEAMS_SECTION),
    ]
    shell = [b.text for b in blocks if b.language in SHELL_LANGUAGES]
    names = {n for text in shell for n in placeholders(text)}
    assert names == {
        f"{plugin} {setting}"
        for plugin in ("tap-heymarket", "tap-heymarket--team-b")
        for setting in ("api_secret_id", "api_secret_key")
    }
    for text in shell:
        fill_placeholders(text, dict.fromkeys(names, "x"))


def test_meltano_config_subcommands_are_meltano_4s() -> None:
    """Meltano 4 reads `meltano config <subcommand> <plugin>`: `config test tap-heymarket`,
    never `config tap-heymarket test`."""
    for path in doc_files():
        text = path.read_text()
        for match in re.finditer(r"meltano config ([\w-]+)", text):
            assert match.group(1) in {"list", "print", "set", "unset", "reset", "test"}, (
                f"{path.name}: `{match.group(0)}` is not a Meltano 4 command"
            )


# --------------------------------------------------------------------------- meltano.yml settings


def test_loaders_carry_no_nul_settings() -> None:
    """The tap replaces U+0000 itself (`replace_nul_characters`), so no loader in meltano.yml,
    in any environment, needs a NUL setting: no stream maps, no NUL sanitizing, no JSON
    rewriting expression (docs/warehouses.md, "NUL characters")."""
    nul_settings = {"stream_maps", "stream_map_config", "sanitize_null_text_characters"}
    loaders = [*PROJECT["plugins"]["loaders"]]
    for env in PROJECT.get("environments", []):
        loaders += (env.get("config") or {}).get("plugins", {}).get("loaders", [])
    assert loaders
    for loader in loaders:
        declared = {s["name"] for s in loader.get("settings", [])}
        configured = set(loader.get("config") or {})
        assert not (declared | configured) & nul_settings, loader["name"]
    text = (REPO_ROOT / "meltano.yml").read_text()
    for needle in ("json.dumps", "\\u0000", "\\ufffd"):
        assert needle not in text, f"meltano.yml still holds {needle!r}"


#: The only settings a minimal loader block may hold: where to connect and what to call it.
CONNECTION_SETTINGS = {
    "filepath",
    "default_target_schema",
    "host",
    "port",
    "user",
    "password",
    "database",
    "dbname",
    "output_path",
}


def test_documented_own_project_is_minimal() -> None:
    """docs/warehouses.md's meltano.yml for a project of one's own (tests/e2e/test_own_project.py
    runs it): the repository's default selection, the loaders with this repository's pins
    and nothing but connection settings, never a password value."""
    project = documented_project()
    (tap,) = project["plugins"]["extractors"]
    assert tap["name"] == "tap-heymarket" and tap["namespace"] == "tap_heymarket"
    assert tap["select"] == TAP_PLUGIN["select"]
    assert {s["name"] for s in tap["settings"]} == {"api_url", "api_secret_id", "api_secret_key"}
    ours = {p["name"]: p for p in PROJECT["plugins"]["loaders"]}
    loaders = project["plugins"]["loaders"]
    names = [p["name"] for p in loaders]
    assert names == ["target-duckdb", "target-postgres", "target-postgres-pipelinewise",
                     "target-csv"]  # fmt: skip
    for loader in loaders:
        name = loader["name"]
        assert set(loader) == {"name", "namespace", "pip_url", "executable", "settings"}, name
        for key in ("namespace", "pip_url", "executable"):
            assert loader[key] == ours[name][key], (name, key)
        settings = {s["name"]: s for s in loader["settings"]}
        assert set(settings) <= CONNECTION_SETTINGS, (name, set(settings) - CONNECTION_SETTINGS)
        assert "value" not in settings.get("password", {}), name
    assert len({p["namespace"] for p in loaders}) == len(loaders), "namespaces must differ"
