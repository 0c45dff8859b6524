"""The commands that README.md and docs/*.md show, for the tests that keep them working.

tests/e2e/test_readme_path.py runs the README's "Running against the real API" blocks as they
are written; tests/unit/test_docs.py checks that every other shell command in the docs is run by
a named test or listed as not runnable here, with the reason. tests/e2e/test_own_project.py runs
the `meltano.yml` that docs/warehouses.md shows for a project of one's own.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
WAREHOUSES_DOC = ROOT / "docs" / "warehouses.md"
#: The docs/warehouses.md section whose YAML blocks are a user's own minimal meltano.yml.
OWN_PROJECT_SECTION = "Your own project: minimal loader blocks"
SHELL_LANGUAGES = frozenset({"sh", "bash", "shell", "console"})
README_PATH_SECTION = "Running against the real API"
#: The README section a user follows to add the tap to a Meltano project of their own, and
#: the docs/meltano.md section for several teams (tests/e2e/test_new_project.py runs both).
INSTALL_SECTION = "Install into your own Meltano project"
TEAMS_DOC = ROOT / "docs" / "meltano.md"
TEAMS_SECTION = "Several Heymarket teams in one project"


def doc_files(root: Path = ROOT) -> list[Path]:
    return [root / "README.md", *sorted((root / "docs").glob("*.md"))]


@dataclass(frozen=True)
class Block:
    """One fenced code block of a Markdown file."""

    path: Path
    line: int  # 1-based line of the opening fence
    language: str
    section: str  # the `## ` heading it is under ("" before the first)
    text: str


_FENCE = re.compile(r"^(\s*)(`{3,}|~{3,})\s*([\w+-]*)")


def fenced_blocks(path: Path) -> list[Block]:
    blocks: list[Block] = []
    section = ""
    lines = path.read_text().splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("## "):
            section = line[3:].strip()
        opening = _FENCE.match(line)
        if not opening:
            i += 1
            continue
        fence = opening.group(2)
        body: list[str] = []
        j = i + 1
        while j < len(lines) and not lines[j].strip().startswith(fence):
            body.append(lines[j])
            j += 1
        if j == len(lines):
            raise ValueError(f"{path}:{i + 1}: unclosed code block")
        blocks.append(Block(path, i + 1, opening.group(3).lower(), section, "\n".join(body)))
        i = j + 1
    return blocks


def shell_blocks(path: Path) -> list[Block]:
    return [b for b in fenced_blocks(path) if b.language in SHELL_LANGUAGES]


def strip_comment(line: str) -> str:
    """The line without its shell comment (a `#` at the start or after a blank, unquoted)."""
    quote = ""
    for i, ch in enumerate(line):
        if quote:
            if ch == quote:
                quote = ""
        elif ch in "'\"":
            quote = ch
        elif ch == "#" and (i == 0 or line[i - 1].isspace()):
            return line[:i].rstrip()
    return line.rstrip()


def commands(block_text: str) -> list[str]:
    """The commands of a shell block: comments and blank lines dropped, continuation lines
    joined, runs of blanks collapsed to one (the form tests/unit/test_docs.py keys them by)."""
    out: list[str] = []
    pending = ""
    for raw in block_text.splitlines():
        line = strip_comment(raw)
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        line = " ".join((pending + line).split())
        pending = ""
        if line:
            out.append(line)
    if pending.strip():
        out.append(" ".join(pending.split()))
    return out


def section_blocks(path: Path, section: str) -> list[Block]:
    """Every fenced block under the `## section` heading of path."""
    found = [b for b in fenced_blocks(path) if b.section == section]
    if not found:
        raise ValueError(f"{path.name} has no code block under '## {section}'")
    return found


def documented_project(path: Path = WAREHOUSES_DOC) -> dict[str, Any]:
    """The `meltano.yml` of a project of one's own that docs/warehouses.md shows: its first
    YAML block under OWN_PROJECT_SECTION (the project and the extractor), plus the loader
    of each further block, as written."""
    import yaml  # PyYAML comes with meltano, in .venv

    blocks = [b for b in section_blocks(path, OWN_PROJECT_SECTION) if b.language == "yaml"]
    if len(blocks) < 2:
        raise ValueError(f"{path.name}: '## {OWN_PROJECT_SECTION}' needs YAML blocks")
    project = yaml.safe_load(blocks[0].text)
    loaders = project["plugins"].setdefault("loaders", [])
    for block in blocks[1:]:
        part = yaml.safe_load(block.text)
        if set(part) != {"plugins"} or set(part["plugins"]) != {"loaders"}:
            raise ValueError(f"{path.name}:{block.line}: a block holds plugins.loaders only")
        loaders.extend(part["plugins"]["loaders"])
    return dict(project)


_PLACEHOLDER = re.compile(r"\b([A-Z][A-Z0-9_]*)=\.\.\.(?=\s|$)")
#: `meltano config set PLUGIN SETTING ...`: the value is filled in under "PLUGIN SETTING".
_SETTING_PLACEHOLDER = re.compile(r"\b(meltano config set ([\w-]+) (\w+)) \.\.\.(?=\s|$)")


def placeholders(script: str) -> list[str]:
    """The NAME of every `NAME=...` in a shell block and the `PLUGIN SETTING` of every
    `meltano config set PLUGIN SETTING ...` (the values a reader fills in)."""
    settings = [
        f"{plugin} {setting}" for _, plugin, setting in _SETTING_PLACEHOLDER.findall(script)
    ]
    return [*_PLACEHOLDER.findall(script), *settings]


def fill_placeholders(script: str, values: Mapping[str, str]) -> str:
    """Replace each `NAME=...` with NAME's value, shell-quoted; nothing else changes.

    ValueError for a NAME without a value, or a `...` left outside a comment."""

    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in values:
            raise ValueError(f"the docs show {name}=... and there is no value for it")
        return f"{name}={shlex.quote(values[name])}"

    def setting_value(match: re.Match[str]) -> str:
        command, plugin, setting = match.groups()
        key = f"{plugin} {setting}"
        if key not in values:
            raise ValueError(f"the docs show `{command} ...` and there is no value for {key!r}")
        return f"{command} {shlex.quote(values[key])}"

    filled = _SETTING_PLACEHOLDER.sub(setting_value, _PLACEHOLDER.sub(value, script))
    for line in filled.splitlines():
        if "..." in strip_comment(line):
            raise ValueError(f"a placeholder that is not NAME=...: {line}")
    return filled
