"""`make unit`, the fast loop the README shows, run as written (tests/unit/test_docs.py
names this test for the command)."""

from __future__ import annotations

import re
import subprocess
import sys

from tests.support.tap_runner import REPO_ROOT, clean_env


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
    assert "failed" not in summary and "error" not in summary, summary
    ran = sum(int(n) for n in re.findall(r"(\d+) (?:passed|skipped)", summary))
    assert ran == collected('-m "not slow"'), summary
    assert ran < collected(""), "make unit ran the slow tests too"


def collected(marker: str) -> int:
    """pytest's own count of the tests a marker expression selects (`--collect-only`)."""
    proc = subprocess.run(
        f"{sys.executable} -m pytest --collect-only -q -p no:cacheprovider {marker}",
        shell=True,
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env=clean_env(),
    )
    last = proc.stdout.strip().splitlines()[-1]
    match = re.match(r"(\d+)(?:/\d+)? tests? collected", last)
    assert match, proc.stdout[-2000:]
    return int(match.group(1))
