"""Bad input gives exit != 0 and one readable line naming the cause, without a traceback.

Record policy (docs/reliability.md, "Unexpected values"): an `id` sent as a string of digits is
converted to an integer; a record whose `id` is not an integer or whose `updated` is not
an RFC 3339 date-time makes the answer malformed, which is retried and then stops the
sync naming the request, its X-Request-Id and the record. The cursor depends on every
`updated`, so such a record can neither be skipped (silent loss) nor emitted.
"""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

import pytest

from heymarket_sandbox import API_KEY, SECRET_ID, SECRET_KEY, Sandbox
from tap_heymarket.state import START_OVER
from tests.support.tap_runner import (
    REPO_ROOT,
    TAP,
    TapRun,
    clean_env,
    run_tap,
    sandbox_config,
    truth_ids,
)

GOOD = {"api_secret_id": SECRET_ID, "api_secret_key": SECRET_KEY}


def _error_line(run: TapRun) -> str:
    assert run.returncode != 0
    assert "Traceback" not in run.stderr
    errors = [line for line in run.stderr.splitlines() if "tap-heymarket: error:" in line]
    assert len(errors) == 1, run.stderr[-2000:]
    assert not [
        line
        for line in run.stderr.splitlines()
        if "| ERROR" in line and "unhandled error occurred" not in line
    ]
    return errors[0]


CONFIG_CASES = {
    "non-url-api_url": ({**GOOD, "api_url": "not a url"}, "api_url"),
    "ftp-api_url": ({**GOOD, "api_url": "ftp://example.com"}, "api_url"),
    "non-date-start_date": ({**GOOD, "start_date": "last tuesday"}, "start_date"),
    "zero-page_size": ({**GOOD, "page_size": 0}, "page_size"),
    "negative-page_size": ({**GOOD, "page_size": -5}, "page_size"),
    "string-page_size": ({**GOOD, "page_size": "many"}, "page_size"),
    "zero-rate": ({**GOOD, "max_requests_per_minute": 0}, "max_requests_per_minute"),
    "both-auth-methods": ({**GOOD, "api_key": API_KEY}, "exactly one auth method"),
    "secret-id-only": ({"api_secret_id": SECRET_ID}, "api_secret_key is missing"),
    "secret-key-only": ({"api_secret_key": SECRET_KEY}, "api_secret_id is missing"),
    "no-credentials": ({}, "no credentials"),
}


@pytest.mark.parametrize(("config", "names"), CONFIG_CASES.values(), ids=CONFIG_CASES.keys())
def test_bad_config(config: dict, names: str) -> None:
    run = run_tap({"api_url": "http://127.0.0.1:9", **config})
    line = _error_line(run)
    assert names in line
    assert run.stdout == ""


@pytest.mark.parametrize(
    ("switches", "expected"),
    [
        ({"force_status": 403}, "HTTP 403"),
        ({"force_status": 400}, "HTTP 400"),
        ({"force_status": 404}, "HTTP 404"),
    ],
    ids=["403-denied", "400-bad-data", "404"],
)
def test_fatal_statuses_fail_at_once(switches: dict, expected: str) -> None:
    with Sandbox(contacts=50, **switches) as sb:
        run = run_tap(sandbox_config(sb.url))
        requests_made = sb.stats()["requests"]
    line = _error_line(run)
    assert expected in line and "X-Request-Id: req" in line and "POST /v1/" in line
    assert requests_made == 1, "fatal statuses are not retried"


@pytest.mark.parametrize(
    ("force_body", "expected"),
    [("html", "not JSON"), ("object", "JSON dict where the API documents a list")],
    ids=["non-json", "object-instead-of-array"],
)
def test_malformed_bodies_fail_after_retries(force_body: str, expected: str) -> None:
    with Sandbox(contacts=50, force_body=force_body) as sb:
        run = run_tap(sandbox_config(sb.url, max_retries=2))
        requests_made = sb.stats()["requests"]
    line = _error_line(run)
    assert expected in line and "failed 3 times" in line and "X-Request-Id: req" in line
    assert requests_made == 3


def test_digit_string_ids_are_converted() -> None:
    with Sandbox(contacts=300, seed=3, force_body="string_ids") as sb:
        run = run_tap(sandbox_config(sb.url))
        truth = truth_ids(sb.truth())
    assert run.returncode == 0, run.stderr[-2000:]
    assert all(isinstance(i, int) for i in run.ids())
    assert set(run.ids()) == truth


def test_unparsable_updated_stops_the_sync_clearly() -> None:
    with Sandbox(contacts=300, seed=3, force_body="bad_updated") as sb:
        run = run_tap(sandbox_config(sb.url, max_retries=1))
    line = _error_line(run)
    assert "'not-a-date'" in line and "not an RFC 3339 date-time" in line
    assert "X-Request-Id: req" in line
    assert not run.records.get("contacts")


@pytest.mark.parametrize(
    ("state_text", "expected"),
    [
        ("{not json", "state.json: not JSON: Expecting property name enclosed in double quotes"),
        ("[1, 2]", "state must be a JSON object"),
        ('{"bookmarks": []}', "state.bookmarks must be an object"),
        ('{"bookmarks": {"contacts": 7}}', "state.bookmarks.contacts must be an object"),
        (
            '{"bookmarks": {"contacts": {"replication_key_value": "yesterday"}}}',
            "state.bookmarks.contacts.replication_key_value must be an ISO 8601 date-time",
        ),
        (
            '{"bookmarks": {"contacts": {"walk": {"cursor": "soon"}}}}',
            "state.bookmarks.contacts.walk.cursor",
        ),
        (
            '{"bookmarks": {"contacts": {"revs_at_bookmark": [[1, 2], [3, "4"]]}}}',
            "state.bookmarks.contacts.revs_at_bookmark[1] must be an [id, rev] pair",
        ),
    ],
    ids=[
        "not-json",
        "list",
        "bookmarks-list",
        "stream-number",
        "bad-bookmark",
        "bad-walk",
        "bad-revs",
    ],
)
def test_corrupt_state_files(state_text: str, expected: str) -> None:
    with Sandbox(contacts=20) as sb, tempfile.TemporaryDirectory() as tmp:
        state = Path(tmp) / "state.json"
        state.write_text(state_text)
        run = run_tap(sandbox_config(sb.url), args=["--state", str(state)], timeout=120)
        requests_made = sb.stats()["requests"]
    line = _error_line(run)
    assert expected in line
    assert requests_made == 0, "a bad state is refused before any request"
    if state_text != "{not json":
        assert line.endswith(START_OVER), "a refusal says how to start over"


def test_traceback_available_on_request() -> None:
    env = {**clean_env(), "TAP_HEYMARKET_TRACEBACK": "1"}
    proc = subprocess.run(
        [
            *TAP,
            "--config",
            "/nonexistent/config.json",
        ],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        env=env,
        timeout=60,
    )
    assert proc.returncode != 0
    assert "Traceback" in proc.stderr
