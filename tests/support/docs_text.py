"""The README, docs/sandbox.md and meltano.yml as the doc tests read them
(tests/unit/test_docs.py, tests/tap/test_docs.py)."""

from __future__ import annotations

import re

import yaml

from tests.support.tap_runner import REPO_ROOT

README = (REPO_ROOT / "README.md").read_text()
SANDBOX_DOC = (REPO_ROOT / "docs" / "sandbox.md").read_text()
PROJECT = yaml.safe_load((REPO_ROOT / "meltano.yml").read_text())
(TAP_PLUGIN,) = [e for e in PROJECT["plugins"]["extractors"] if e["name"] == "tap-heymarket"]


def between(text: str, name: str) -> str:
    """The text between `<!-- name:start -->` and `<!-- name:end -->` (a generated or
    checked part of a doc)."""
    match = re.search(f"<!-- {name}:start -->\n(.*?)<!-- {name}:end -->", text, re.S)
    assert match, f"the doc lacks the {name} markers"
    return match.group(1)
