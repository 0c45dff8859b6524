"""`make unit`, the fast loop the README shows, run as written (tests/unit/test_docs.py
names this test for the command)."""

from __future__ import annotations

import subprocess

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
    assert " passed" in summary and "deselected" in summary and "failed" not in summary, summary
