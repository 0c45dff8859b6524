"""The cookiecutter's habits: one version, an SPDX license with its text, `.env.example`."""

from __future__ import annotations

import re
import subprocess
import tomllib

import pytest

from tap_heymarket import __version__
from tap_heymarket.tap import TapHeymarket
from tests.support.tap_runner import REPO_ROOT

PYPROJECT = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())


def test_version_is_written_once() -> None:
    project = PYPROJECT["project"]
    assert "version" not in project and "version" in project["dynamic"]
    attr = PYPROJECT["tool"]["setuptools"]["dynamic"]["version"]["attr"]
    assert attr == "tap_heymarket.__version__"
    assert re.fullmatch(r"\d+\.\d+\.\d+", __version__)
    assert TapHeymarket.plugin_version == __version__


def test_license_is_spdx_with_its_text() -> None:
    project = PYPROJECT["project"]
    assert project["license"] == "Apache-2.0"
    assert project["license-files"] == ["LICENSE"]
    text = (REPO_ROOT / "LICENSE").read_text()
    assert "Apache License" in text and "Version 2.0, January 2004" in text
    assert "END OF TERMS AND CONDITIONS" in text
    requires = PYPROJECT["build-system"]["requires"]
    assert requires == ["setuptools>=77"], "SPDX license expressions need setuptools 77"


def _example_lines() -> dict[str, str]:
    """`NAME -> value` for every `TAP_HEYMARKET_*=` line, commented out or not."""
    found = {}
    for line in (REPO_ROOT / ".env.example").read_text().splitlines():
        match = re.fullmatch(r"#?\s*(TAP_HEYMARKET_[A-Z_]+)=(.*)", line.strip())
        if match:
            found[match.group(1)] = match.group(2)
    return found


def test_env_example_names_every_setting_without_values() -> None:
    example = _example_lines()
    builtin: dict = {"properties": {}}
    TapHeymarket.append_builtin_config(builtin)  # the SDK's stream maps, flattening, batch
    names = set(TapHeymarket.config_jsonschema["properties"]) - set(builtin["properties"])
    settings = {f"TAP_HEYMARKET_{name.upper()}" for name in names}
    assert "TAP_HEYMARKET_API_SECRET_ID" in settings
    assert settings <= set(example), f"missing: {sorted(settings - set(example))}"
    assert set(example) - settings <= {"TAP_HEYMARKET_TRACEBACK"}
    assert {name: value for name, value in example.items() if value.strip()} == {}


def test_env_example_comments_every_variable() -> None:
    variable = re.compile(r"#?\s*TAP_HEYMARKET_[A-Z_]+=")
    lines = (REPO_ROOT / ".env.example").read_text().splitlines()
    for number, line in enumerate(lines):
        if variable.match(line):
            before = lines[number - 1]
            assert before.startswith("# ") and not variable.match(before), f"no comment: {line}"


@pytest.mark.skipif(not (REPO_ROOT / ".git").exists(), reason="not a git checkout")
def test_git_ignores_env_but_not_its_example() -> None:
    def ignored(name: str) -> bool:
        return (
            subprocess.run(
                ["git", "check-ignore", "-q", name], cwd=REPO_ROOT, check=False
            ).returncode
            == 0
        )

    assert ignored(".env")
    assert not ignored(".env.example")


def test_make_mutate_names_what_exists() -> None:
    """`make mutate` mutates real modules and copies what the fast suite reads
    (`[tool.mutmut]`; mutmut skips a missing path without a word)."""
    mutmut = PYPROJECT["tool"]["mutmut"]
    assert mutmut["only_mutate"], "nothing to mutate"
    for path in mutmut["only_mutate"]:
        assert (REPO_ROOT / path).is_file(), path
        assert any(path.startswith(f"{source}/") for source in mutmut["source_paths"]), path
    for path in mutmut["also_copy"]:
        assert (REPO_ROOT / path).exists(), path
    assert mutmut["pytest_add_cli_args"][:2] == ["-m", "not slow"], "the fast suite"
    assert PYPROJECT["dependency-groups"]["mutate"] == ["mutmut==3.8.1"]
    makefile = (REPO_ROOT / "Makefile").read_text()
    assert "pip install --quiet --group mutate" in makefile
    # Everything the fast suite reads at the top level is copied (or is the package/tests).
    tracked = subprocess.run(
        ["git", "ls-files"], cwd=REPO_ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    top = {name.split("/", 1)[0] for name in tracked}
    copied = {*mutmut["also_copy"], *mutmut["source_paths"], "tests", "pyproject.toml"}
    assert top - copied <= {".gitignore"}, sorted(top - copied)


def test_the_changelog_has_the_version() -> None:
    """CHANGELOG.md has an entry for the version the package and the User-Agent carry."""
    text = (REPO_ROOT / "CHANGELOG.md").read_text()
    assert f"## [{__version__}] - " in text
    assert text.index("## [Unreleased]") < text.index(f"## [{__version__}]")
