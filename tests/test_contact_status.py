"""contact_status: off by default; selected, one `POST /v1/contact/status` per contact the
run reads, equal to the sandbox's truth (`truth(status=True)`), 404s skipped, resumable.
The first tests check the sandbox's endpoint itself (in process, not marked slow)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import pytest
import requests

from heymarket_dev.generated import CATALOG
from heymarket_dev.meltano import clean_env
from heymarket_sandbox import Sandbox
from tests.support.contact_values import held, select, truth_values, upsert
from tests.support.tap_runner import (
    REPO_ROOT,
    TAP,
    parse_messages,
    run_tap,
    sandbox_config,
    write_json,
)

STATUS = "/v1/contact/status"
FLAGS = ("unsubscribed", "blocked", "unsubscribed_admin", "unsubscribed_contact", "locked")


def _post(sb: Sandbox, path: str, body: Any, **headers: str) -> requests.Response:
    return requests.post(
        sb.url + path, json=body, headers={**sb.auth_headers(), **headers}, timeout=30
    )


def test_sandbox_status_endpoint() -> None:
    with Sandbox(contacts=60, seed=50) as sb:
        truth = sb.truth(status=True)
        ids = [int(i) for i in truth["contacts"]]
        answers = [_post(sb, STATUS, {"id": i}) for i in ids]
        assert all(r.status_code == 200 and r.headers["X-Request-Id"] for r in answers)
        assert {a.json()["id"]: a.json() for a in answers} == {
            int(k): v for k, v in truth["statuses"].items()
        }
        first = answers[0].json()
        assert set(first) >= {"id", "phone", "unsubscribed", "blocked"}
        assert any("locked" in a.json() for a in answers)
        assert any("locked" not in a.json() for a in answers)
        by_phone = _post(sb, STATUS, {"phone": "+" + first["phone"]})
        assert by_phone.json() == first
        # unknown contact, bad bodies, no credentials
        missing = _post(sb, STATUS, {"id": 1})
        assert missing.status_code == 404 and missing.json()["error"] == "not_found"
        for bad in ({}, {"id": "12"}, {"id": True}, {"phone": 5}, [1]):
            assert _post(sb, STATUS, bad).status_code == 400, bad
        unauthorized = requests.post(sb.url + STATUS, json={"id": ids[0]}, timeout=30)
        assert unauthorized.status_code == 401
        # a changed contact answers from its new rev: its opt-out follows the contact
        changed = sb.mutate(n=30, new=0)["updated_ids"]
        contacts = requests.post(
            sb.url + "/v1/contacts", json={"limit": 100}, headers=sb.auth_headers(), timeout=30
        ).json()
        opted = {c["id"]: c["is_opted_out"] for c in contacts}
        after = sb.truth(status=True)["statuses"]
        assert all(after[str(i)]["unsubscribed"] == opted[i] for i in changed)
        assert any(after[str(i)] != truth["statuses"][str(i)] for i in changed)
        assert _status_requests(sb.stats()) == {"200": 61, "404": 1, "400": 5, "401": 1}


def test_sandbox_missing_statuses_and_truth_flags() -> None:
    with Sandbox(contacts=300, seed=56, status_missing=0.2) as sb:
        plain = sb.truth()
        truth = sb.truth(status=True, custom=True)
        assert "statuses" not in plain and "contact_status" not in plain["streams"]
        listed = set(truth["statuses"])
        assert 30 <= 300 - len(listed) <= 90  # about 20 % answer 404
        assert truth["streams"]["contact_status"]["count"] == len(listed)
        for cid in list(truth["contacts"])[:40]:
            status = _post(sb, STATUS, {"id": int(cid)}).status_code
            assert status == (200 if cid in listed else 404)
        values = truth["streams"]["contact_field_values"]
        assert values["count"] == sum(len(m) for m in truth["custom"].values())
        assert values["count"] == len(values["ids"])


def test_sandbox_mutations_clear_values_and_rename_fields() -> None:
    with Sandbox(contacts=200, seed=57) as sb:
        before = sb.truth(custom=True)["custom"]
        fields = _post(sb, "/v1/contact-fields", {}).json()
        titles = [f["title"] for f in fields]
        for awkward in ("Birthday", "birthday ", "", "🎂", "Email", "Región"):
            assert awkward in titles
        changed = sb.mutate(n=60, new=0, fields=2)
        after = sb.truth(custom=True)["custom"]
        lost = [i for i in changed["updated_ids"] if set(before[str(i)]) - set(after[str(i)])]
        assert len(lost) >= 10, "a mutated contact may lose a custom key"
        renamed = _post(sb, "/v1/contact-fields", {}).json()
        assert len(changed["field_ids"]) == 2
        new_titles = {f["id"]: f["title"] for f in renamed}
        for fid in changed["field_ids"]:
            assert new_titles[fid].endswith(f"(renamed {changed['field_ids'].index(fid) + 1})")
        r = requests.post(sb.url + "/__sandbox/mutate", json={"fields": -1}, timeout=30)
        assert r.status_code == 400


def _catalog(*streams: str) -> dict[str, Any]:
    return select(json.loads(CATALOG.read_text()), *streams)


def _status_requests(stats: dict[str, Any]) -> dict[str, int]:
    return dict(stats["by_path"].get(STATUS, {}))


def _assert_equal_to_truth(rows: dict[int, dict], truth: dict[str, Any], ids: set[int]) -> None:
    for contact_id in ids:
        want = truth["statuses"][str(contact_id)]
        got = rows[contact_id]
        assert got["phone"] == want["phone"]
        for flag in FLAGS:
            assert got[flag] == want.get(flag), (contact_id, flag)
        extra = {k: v for k, v in want.items() if k not in (*FLAGS, "id", "phone")}
        assert got["extra_fields"] == (extra or None), contact_id


@pytest.mark.slow
def test_off_by_default() -> None:
    with Sandbox(contacts=200, seed=51) as sb:
        run = run_tap(sandbox_config(sb.url))
        stats = sb.stats()
    assert run.returncode == 0, run.stderr[-3000:]
    assert "contact_status" not in run.records
    assert _status_requests(stats) == {}
    catalog = json.loads(CATALOG.read_text())
    (entry,) = [s for s in catalog["streams"] if s["tap_stream_id"] == "contact_status"]
    (root,) = [m["metadata"] for m in entry["metadata"] if m["breadcrumb"] == []]
    assert root["selected-by-default"] is False


@pytest.mark.slow
def test_selected_equals_truth_and_an_incremental_run_costs_one_call_per_change() -> None:
    catalog = _catalog("contacts", "contact_status")
    with Sandbox(contacts=200, seed=52) as sb:
        config = sandbox_config(sb.url, page_size=50)
        full = run_tap(config, catalog=catalog)
        truth = sb.truth(status=True)
        full_requests = _status_requests(sb.stats())
        sb.reset_stats()
        changed = sb.mutate(n=7, new=2)
        incremental = run_tap(config, catalog=catalog, state=full.final_state)
        after = sb.truth(status=True)
        incremental_requests = _status_requests(sb.stats())
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

    assert incremental.returncode == 0, incremental.stderr[-3000:]
    expected = set(changed["updated_ids"]) | set(changed["created_ids"])
    assert len(expected) == 9
    emitted = {r["id"]: r for r in incremental.records["contact_status"]}
    assert set(emitted) == expected
    _assert_equal_to_truth(emitted, after, expected)
    assert sum(incremental_requests.values()) <= len(expected) + 2


@pytest.mark.slow
def test_deleted_contacts_are_skipped_and_counted() -> None:
    """A contact deleted between the list and its status request answers 404."""
    catalog = _catalog("contacts", "contact_status")
    with Sandbox(contacts=200, seed=53, status_missing=0.1) as sb:
        run = run_tap(sandbox_config(sb.url, page_size=50), catalog=catalog)
        truth = sb.truth(status=True)
        requests_made = _status_requests(sb.stats())
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


@pytest.mark.slow
def test_an_endpoint_that_only_answers_404_fails_clearly() -> None:
    catalog = _catalog("contacts", "contact_status")
    with Sandbox(contacts=50, seed=54, status_missing=1.0) as sb:
        run = run_tap(sandbox_config(sb.url), catalog=catalog)
        requests_made = _status_requests(sb.stats())
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


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::ResourceWarning")
def test_a_kill_during_the_status_reads_loses_nothing() -> None:
    """Killed in the middle of an answer's status reads, the run resumes from its last
    STATE: the contacts of that answer are read again, with their statuses and values."""
    catalog = _catalog("contacts", "contact_status", "contact_field_values")
    with Sandbox(contacts=300, seed=55) as sb:
        config = sandbox_config(sb.url, page_size=50)
        killed = _run_until(config, catalog, None, stop_after=120)
        states = [m["value"] for m in killed if m["type"] == "STATE"]
        sb.reset_stats()
        resumed = run_tap(config, catalog=catalog, state=states[-1])
        resumed_requests = sum(_status_requests(sb.stats()).values())
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
