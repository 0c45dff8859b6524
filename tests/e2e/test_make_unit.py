"""`make unit`, the fast loop the README shows, run as written (tests/unit/test_docs.py
names this test for the command).

It is also how `make test` runs the fast tests: the Makefile's `test` target runs the slow
ones (`-m slow`) and this test among them runs every other test, once, through `make unit`
(docs/testing.md, "What runs where"). So a fast test that fails fails this test, which
names it."""

from __future__ import annotations

import re
import subprocess
import sys

from tests.support.tap_runner import REPO_ROOT, clean_env

SLOW_FOLDERS = ("tests/tap/", "tests/e2e/")


def test_make_unit_runs_only_fast_tests() -> None:
    """`make unit`, as the README shows it: passes, and runs exactly the tests not marked
    `slow` (pytest's own selection), none of tests/tap/ and tests/e2e/."""
    proc = subprocess.run(
        ["make", "unit"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=900,
        env=clean_env(),
    )
    failed = [line for line in proc.stdout.splitlines() if line.startswith(("FAILED", "ERROR"))]
    assert proc.returncode == 0, (
        "\n".join(failed) + "\n" + proc.stdout[-3000:] + proc.stderr[-2000:]
    )
    summary = next(line for line in reversed(proc.stdout.splitlines()) if " passed" in line)
    assert "failed" not in summary and "error" not in summary, summary
    ran = sum(int(n) for n in re.findall(r"(\d+) (?:passed|skipped)", summary))
    fast = collected('-m "not slow"')
    assert ran == len(fast), summary
    assert fast and not [n for n in fast if n.startswith(SLOW_FOLDERS)], "make unit ran slow tests"


def collected(marker: str) -> list[str]:
    """The node ids a marker expression selects (pytest's own `--collect-only`)."""
    proc = subprocess.run(
        f"{sys.executable} -m pytest --collect-only -q -p no:cacheprovider {marker}",
        shell=True,
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env=clean_env(),
    )
    lines = proc.stdout.strip().splitlines()
    match = re.match(r"(\d+)(?:/\d+)? tests? collected", lines[-1]) if lines else None
    assert match, proc.stdout[-2000:]
    ids = [line for line in lines if "::" in line]
    assert len(ids) == int(match.group(1)), proc.stdout[-2000:]
    return ids
