"""The README's generated parts stay current."""

from __future__ import annotations

import re

from heymarket_dev.generated import settings_table
from heymarket_sandbox import SWITCHES
from tests.tap_runner import REPO_ROOT

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
