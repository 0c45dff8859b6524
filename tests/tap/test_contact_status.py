"""contact_status: off by default; selected, one `POST /v1/contact/status` per contact the
run reads, equal to the sandbox's truth (`truth(status=True)`), 404s skipped, resumable.
The sandbox's endpoint itself: tests/sandbox/test_contact_status.py."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import pytest

from heymarket_dev.generated import CATALOG
from heymarket_dev.meltano import clean_env
from heymarket_sandbox import Sandbox
from tests.support.contact_status import status_requests
from tests.support.contact_values import held, select, truth_values, upsert
from tests.support.tap_runner import (
    REPO_ROOT,
    TAP,
    parse_messages,
    run_tap,
    sandbox_config,
    write_json,
)

FLAGS = ("unsubscribed", "blocked", "unsubscribed_admin", "unsubscribed_contact", "locked")


def _catalog(*streams: str) -> dict[str, Any]:
    return select(json.loads(CATALOG.read_text()), *streams)


def _assert_equal_to_truth(rows: dict[int, dict], truth: dict[str, Any], ids: set[int]) -> None:
    for contact_id in ids:
        want = truth["statuses"][str(contact_id)]
        got = rows[contact_id]
        assert got["phone"] == want["phone"]
        for flag in FLAGS:
            assert got[flag] == want.get(flag), (contact_id, flag)
        extra = {k: v for k, v in want.items() if k not in (*FLAGS, "id", "phone")}
        assert got["extra_fields"] == (extra or None), contact_id


def test_off_by_default() -> None:
    with Sandbox(contacts=200, seed=51) as sb:
        run = run_tap(sandbox_config(sb.url))
        stats = sb.stats()
    assert run.returncode == 0, run.stderr[-3000:]
    assert "contact_status" not in run.records
    assert status_requests(stats) == {}
    catalog = json.loads(CATALOG.read_text())
    (entry,) = [s for s in catalog["streams"] if s["tap_stream_id"] == "contact_status"]
    (root,) = [m["metadata"] for m in entry["metadata"] if m["breadcrumb"] == []]
    assert root["selected-by-default"] is False


def test_selected_without_the_setting_reads_no_status_and_says_so() -> None:
    """Meltano's `*.*` selects every stream: a selection alone must never start one request
    per contact. Without `read_contact_status` the stream reads nothing, with a WARNING;
    the other streams run as before."""
    catalog = _catalog("contacts", "contact_status", "contact_field_values")
    with Sandbox(contacts=200, seed=56) as sb:
        run = run_tap(sandbox_config(sb.url, page_size=50), catalog=catalog)
        stats = sb.stats()
    assert run.returncode == 0, run.stderr[-3000:]
    assert status_requests(stats) == {}
    assert "contact_status" not in run.records
    assert len(run.records["contacts"]) == 200 and run.records["contact_field_values"]
    warnings = [line for line in run.stderr.splitlines() if "read_contact_status is off" in line]
    assert len(warnings) == 1 and "WARNING" in warnings[0], warnings


def test_selected_equals_truth_and_an_incremental_run_costs_one_call_per_change() -> None:
    catalog = _catalog("contacts", "contact_status")
    with Sandbox(contacts=200, seed=52) as sb:
        config = sandbox_config(sb.url, page_size=50, read_contact_status=True)
        full = run_tap(config, catalog=catalog)
        truth = sb.truth(status=True)
        full_requests = status_requests(sb.stats())
        sb.reset_stats()
        changed = sb.mutate(n=7, new=2)
        incremental = run_tap(config, catalog=catalog, state=full.final_state)
        after = sb.truth(status=True)
        incremental_requests = status_requests(sb.stats())
    assert full.returncode == 0, full.stderr[-3000:]
    assert "WARNING" not in full.stderr
    rows = {r["id"]: r for r in full.records["contact_status"]}
    assert len(rows) == len(full.records["contact_status"]), "one row per contact"
    assert set(rows) == {int(i) for i in truth["statuses"]}
    _assert_equal_to_truth(rows, truth, set(rows))
    assert any(r["extra_fields"] for r in rows.values()), "undocumented fields are kept"
    assert any(r["unsubscribed_admin"] is None for r in rows.values())
    updated = {r["id"]: r["updated"] for r in full.records["contacts"]}
    assert all(r["contact_updated"] == updated[i] for i, r in rows.items())
    assert full_requests == {"200": 200}
    # At its start the stream says how many requests and how long at the configured pace,
    # then a line at each tenth, with the time left (progress.py).
    lines = [line for line in full.stderr.splitlines() if "contact_status: " in line]
    starts = [line for line in lines if "one request per contact the run reads" in line]
    assert len(starts) == 1 and "up to 200 requests (the API's count)" in starts[0], lines
    pace = config["max_requests_per_minute"]
    assert f"under a minute at {pace} requests a minute" in starts[0], starts
    done = [line for line in lines if "requests done" in line]
    assert [line.split("(")[1].split(")")[0] for line in done][-10:] == [
        f"{p}%" for p in range(10, 101, 10)
    ], done
    assert all("left at the pace so far" in line for line in done[:-1])

    assert incremental.returncode == 0, incremental.stderr[-3000:]
    expected = set(changed["updated_ids"]) | set(changed["created_ids"])
    assert len(expected) == 9
    emitted = {r["id"]: r for r in incremental.records["contact_status"]}
    assert set(emitted) == expected
    _assert_equal_to_truth(emitted, after, expected)
    assert sum(incremental_requests.values()) <= len(expected) + 2


def test_deleted_contacts_are_skipped_and_counted() -> None:
    """A contact deleted between the list and its status request answers 404."""
    catalog = _catalog("contacts", "contact_status")
    with Sandbox(contacts=200, seed=53, status_missing=0.1) as sb:
        run = run_tap(
            sandbox_config(sb.url, page_size=50, read_contact_status=True), catalog=catalog
        )
        truth = sb.truth(status=True)
        requests_made = status_requests(sb.stats())
    assert run.returncode == 0, run.stderr[-3000:]
    missing = 200 - len(truth["statuses"])
    assert 8 <= missing <= 40
    assert requests_made == {"200": 200 - missing, "404": missing}
    rows = {r["id"]: r for r in run.records["contact_status"]}
    assert set(rows) == {int(i) for i in truth["statuses"]}
    _assert_equal_to_truth(rows, truth, set(rows))
    assert "answered 404 (deleted after they were listed): skipped" in run.stderr
    counted = [
        json.loads(line.split("METRIC:", 1)[1])["value"]
        for line in run.stderr.splitlines()
        if '"metric":"contacts_not_found"' in line
    ]
    assert sum(counted) == missing
    assert len(run.records["contacts"]) == 200


def test_an_endpoint_that_only_answers_404_fails_clearly() -> None:
    catalog = _catalog("contacts", "contact_status")
    with Sandbox(contacts=50, seed=54, status_missing=1.0) as sb:
        run = run_tap(sandbox_config(sb.url, read_contact_status=True), catalog=catalog)
        requests_made = status_requests(sb.stats())
    assert run.returncode == 1
    line = run.stderr.strip().splitlines()[-1]
    assert line.startswith("tap-heymarket: error: POST /v1/contact/status answered 404")
    assert "X-Request-Id: req" in line and "check api_url" in line
    assert requests_made == {"404": 10}


def _run_until(config: dict, catalog: dict, state: dict | None, stop_after: int) -> list[dict]:
    """Run the tap; SIGKILL it once it has written `stop_after` contact_status records."""
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        cmd = [*TAP, "--config", str(write_json(config, directory, "config.json"))]
        cmd += ["--catalog", str(write_json(catalog, directory, "catalog.json"))]
        if state is not None:
            cmd += ["--state", str(write_json(state, directory, "state.json"))]
        lines: list[str] = []
        with subprocess.Popen(
            cmd,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            cwd=REPO_ROOT,
            env=clean_env(),
            text=True,
        ) as proc:
            assert proc.stdout is not None
            seen = 0
            for line in proc.stdout:
                lines.append(line)
                seen += '"stream":"contact_status"' in line and '"type":"RECORD"' in line
                if seen >= stop_after:
                    os.kill(proc.pid, signal.SIGKILL)
                    break
            proc.wait()
    return parse_messages("".join(lines))


@pytest.mark.filterwarnings("ignore::ResourceWarning")
def test_a_kill_during_the_status_reads_loses_nothing() -> None:
    """Killed in the middle of an answer's status reads, the run resumes from its last
    STATE: the contacts of that answer are read again, with their statuses and values."""
    catalog = _catalog("contacts", "contact_status", "contact_field_values")
    with Sandbox(contacts=300, seed=55) as sb:
        config = sandbox_config(sb.url, page_size=50, read_contact_status=True)
        killed = _run_until(config, catalog, None, stop_after=120)
        states = [m["value"] for m in killed if m["type"] == "STATE"]
        sb.reset_stats()
        resumed = run_tap(config, catalog=catalog, state=states[-1])
        resumed_requests = sum(status_requests(sb.stats()).values())
        truth = sb.truth(status=True, custom=True)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    before = [m["record"] for m in killed if m["type"] == "RECORD"]
    statuses = {r["id"] for r in before if "contact_updated" in r}
    assert 120 <= len(statuses) < 150, "killed inside the third answer's status reads"
    statuses |= {r["id"] for r in resumed.records["contact_status"]}
    assert statuses == {int(i) for i in truth["statuses"]}
    # Only the answer in progress is read again (with the tie group at the saved cursor).
    assert resumed_requests <= 300 - 100 + 3
    values = upsert({}, [r for r in before if "field_id" in r])
    upsert(values, resumed.records["contact_field_values"])
    assert held(values) == truth_values(truth)
