"""The log a person reads: of a normal run, of a failing one, and of a failing one under
Meltano's structured logging. One summary line per stream, with the records it emitted; no
SDK line that contradicts the tap's (`Pagination stopped after 1 pages`), no "unhandled
error" before an error the tap reports; the fatal line once, last, at error level; plural
forms (tap_heymarket/run_log.py)."""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

import pytest

from heymarket_sandbox import Sandbox
from tests.support.tap_runner import TapRun, clean_env, run_tap, sandbox_config

#: A count of one with a plural noun, or an article before a type name.
BAD_WORDS = re.compile(r"\b1 (requests|records|repeats|answers|messages|pages|rounds)\b|\ba int\b")


@pytest.fixture(scope="module")
def sandbox() -> Sandbox:
    with Sandbox(contacts=300, seed=2, messages=200, conversations=30) as sb:
        yield sb


def summary_lines(stderr: str) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for line in stderr.splitlines():
        match = re.search(r"\| (\w+): ([\d,]+) records? (from|built from)", line)
        if match:
            found.setdefault(match.group(1), []).append(line)
    return found


def test_a_normal_run_reads_as_one_summary_line_per_stream(sandbox: Sandbox) -> None:
    run = run_tap(sandbox_config(sandbox.url))
    assert run.returncode == 0, run.stderr[-2000:]
    emitted = Counter(m["stream"] for m in run.messages if m["type"] == "RECORD")
    lines = summary_lines(run.stderr)
    assert set(lines) == set(emitted), (sorted(lines), sorted(emitted))
    for stream, count in emitted.items():
        (line,) = lines[stream]
        assert f"{stream}: {count:,} record" in line, line
    assert "Pagination stopped" not in run.stderr
    assert "unhandled error" not in run.stderr
    assert " ERROR " not in run.stderr and " WARNING " not in run.stderr
    assert not BAD_WORDS.findall(run.stderr), BAD_WORDS.findall(run.stderr)


def test_a_failing_run_ends_with_its_one_line(sandbox: Sandbox) -> None:
    run = run_tap(sandbox_config(sandbox.url, api_secret_key="wrong"))
    assert run.returncode == 1
    errors = [line for line in run.stderr.splitlines() if "error" in line.lower()]
    assert len(errors) == 1, errors
    assert run.stderr.strip().splitlines()[-1] == errors[0]
    assert errors[0].startswith("tap-heymarket: error: POST /v1/")
    assert "unhandled error" not in run.stderr and "Traceback" not in run.stderr


def test_under_meltano_s_structured_log_the_fatal_line_is_one_error_record(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    """Meltano gives an SDK tap a logging config with the SDK's JSON formatter
    (SINGER_SDK_LOG_CONFIG) and reads each record's level: the fatal line must be one
    record at level error, not plain text it logs at info."""
    config = tmp_path / "logging.json"
    config.write_text(
        json.dumps(
            {
                "version": 1,
                "disable_existing_loggers": False,
                "formatters": {"f": {"()": "singer_sdk.logging.StructuredFormatter"}},
                "handlers": {
                    "console": {
                        "class": "logging.StreamHandler",
                        "formatter": "f",
                        "stream": "ext://sys.stderr",
                    }
                },
                "root": {"handlers": ["console"], "level": "INFO"},
            }
        )
    )
    env = clean_env({"SINGER_SDK_LOG_CONFIG": str(config)})
    run: TapRun = run_tap(sandbox_config(sandbox.url, api_secret_key="wrong"), env=env)
    assert run.returncode == 1
    lines = run.stderr.strip().splitlines()
    records = [json.loads(line) for line in lines]  # every line is a JSON record
    fatal = [r for r in records if "tap-heymarket: error:" in r["message"]]
    assert len(fatal) == 1 and fatal[0]["level"] == "error", fatal
    assert records[-1] is fatal[0]
    assert not [r for r in records if r["level"] == "error" and r is not fatal[0]]
