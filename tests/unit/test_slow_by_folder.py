"""`slow` is set by folder (tests/conftest.py): `-m "not slow"` (`make unit`) collects every
test under tests/unit/ and tests/sandbox/, and none under tests/tap/ or tests/e2e/.

Collected by pytest itself in a subprocess (`--collect-only -q -m "not slow"`), so the rule
is checked for the whole tree whatever this session selects; tests/support/deselected_report.py
lists what the run left out, so the one collection shows every test. No test file marks
itself `slow`.
"""

from __future__ import annotations

import subprocess
import sys

from tests.support.deselected_report import PREFIX
from tests.support.tap_runner import REPO_ROOT, clean_env

FAST = ("tests/unit/", "tests/sandbox/")
SLOW = ("tests/tap/", "tests/e2e/")
COLLECT_NOT_SLOW = ["--collect-only", "-q", "-m", "not slow", "-p", "no:cacheprovider"]
COLLECT_NOT_SLOW += ["-p", "tests.support.deselected_report"]


def _collect_not_slow() -> tuple[set[str], set[str]]:
    """(node ids `-m "not slow"` collects, node ids it deselects), over the whole tree."""
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", *COLLECT_NOT_SLOW],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        env=clean_env(),
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    lines = proc.stdout.splitlines()
    deselected = {line.removeprefix(PREFIX) for line in lines if line.startswith(PREFIX)}
    selected = {line for line in lines if "::" in line and not line.startswith(PREFIX)}
    return selected, deselected


def test_not_slow_is_exactly_unit_and_sandbox() -> None:
    selected, deselected = _collect_not_slow()
    every = selected | deselected
    assert not selected & deselected
    for folder in (*FAST, *SLOW):
        assert any(i.startswith(folder) for i in every), f"no test collected under {folder}"
    in_fast_folders = {i for i in every if i.startswith(FAST)}
    in_slow_folders = {i for i in every if i.startswith(SLOW)}
    outside = sorted(every - in_fast_folders - in_slow_folders)
    assert not outside, f"tests outside the four folders: {outside[:5]}"
    leaked = sorted(selected & in_slow_folders)
    assert not leaked, f"`-m 'not slow'` collects {len(leaked)} tap/e2e tests: {leaked[:5]}"
    missing = sorted(in_fast_folders - selected)
    assert not missing, f"`-m 'not slow'` leaves out {len(missing)} fast tests: {missing[:5]}"
    assert selected == in_fast_folders and deselected == in_slow_folders


def test_the_parallel_plan_names_tests_that_exist() -> None:
    """tests/conftest.py's LONGEST_FIRST prefixes and Meltano-project modules name real
    tests: a file moved or renamed would otherwise drop out of the plan in silence."""
    from tests.conftest import LONGEST_FIRST, MELTANO_PROJECT_MODULES

    for prefix in LONGEST_FIRST:
        path, _, test = prefix.partition("::")
        source = (REPO_ROOT / path).read_text()
        assert not test or f"def {test}(" in source, prefix
    for name in MELTANO_PROJECT_MODULES:
        assert (REPO_ROOT / "tests" / "e2e" / name).is_file(), name
