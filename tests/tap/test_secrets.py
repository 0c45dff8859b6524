"""No secret (API key, secret key, secret id or minted JWT) appears in any output.

Every `run_tap` and `run_until_killed` in the suite already asserts this for its own config
(`tests.support.tap_runner.assert_no_secrets`: the secrets plain, URL-encoded and in base64, and
every part of the JWTs the run could have minted); this module runs the failure, retry and
kill scenarios with distinctive secret values, checks that the scenarios meant to sync did
sync, and also greps `--about`, discovery, the committed catalog and meltano.yml.
"""

from __future__ import annotations

import json
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from heymarket_sandbox import Sandbox
from tests.support.tap_runner import (
    REPO_ROOT,
    TAP,
    assert_no_secrets,
    clean_env,
    run_tap,
    run_until_killed,
)

SECRET_ID = "sid-Zq81-distinctive"
SECRET_KEY = "skey-Hh42-VERY-distinctive"
API_KEY = "apikey-Pp77-distinctive"
JWT = {"api_secret_id": SECRET_ID, "api_secret_key": SECRET_KEY}
LEGACY = {"api_key": API_KEY}
#: Every secret of this module: `assert_no_secrets` with it looks for all of them, in
#: every form (plain, URL-encoded, base64), and for the tokens minted from the JWT pair.
ALL_SECRETS = {**JWT, **LEGACY}
CONTACTS = 300


@dataclass(frozen=True)
class Scenario:
    switches: dict[str, Any]
    auth: dict[str, Any]
    #: True: the run must succeed and emit every contact. False: it must fail.
    succeeds: bool
    #: Stderr must hold a retry warning (the warning is where a token could leak).
    retries: bool = False
    #: A failing run: the sandbox status it must have been refused with.
    refused_with: str | None = None


SCENARIOS = {
    "jwt-ok": Scenario({}, JWT, succeeds=True),
    "legacy-ok": Scenario({}, LEGACY, succeeds=True),
    "jwt-wrong-key": Scenario(
        {}, {**JWT, "api_secret_key": SECRET_KEY + "x"}, succeeds=False, refused_with="401"
    ),
    "legacy-wrong-key": Scenario(
        {}, {"api_key": API_KEY + "x"}, succeeds=False, refused_with="401"
    ),
    "flaky": Scenario(
        {"fault_5xx": 0.2, "fault_truncate": 0.1, "fault_drop": 0.1},
        JWT,
        succeeds=True,
        retries=True,
    ),
    "rate-limited": Scenario(
        {"rate_limit": 5, "rate_window": 1, "retry_after": "auto"},
        JWT,
        succeeds=True,
        retries=True,
    ),
    "forbidden": Scenario({"force_status": 403}, LEGACY, succeeds=False, refused_with="403"),
    "malformed": Scenario(
        {"force_body": "html"}, {**LEGACY, "max_retries": 1}, succeeds=False, retries=True
    ),
}


def _assert_clean(*outputs: str, since: float | None = None, until: float | None = None) -> None:
    assert_no_secrets(ALL_SECRETS, *outputs, since=since, until=until)


def _sandbox(**switches: Any) -> Sandbox:
    return Sandbox(
        contacts=CONTACTS,
        secret_id=SECRET_ID,
        secret_key=SECRET_KEY,
        api_key=API_KEY,
        **switches,
    )


def _config(sb: Sandbox, auth: dict[str, Any]) -> dict[str, Any]:
    return {"api_url": sb.url, "max_requests_per_minute": 100_000, "page_size": 50, **auth}


@pytest.mark.parametrize("scenario", SCENARIOS.values(), ids=SCENARIOS.keys())
def test_no_secret_in_any_output(scenario: Scenario) -> None:
    with _sandbox(**scenario.switches) as sb:
        started = time.time()
        run = run_tap(_config(sb, scenario.auth))
        finished = time.time()
        stats = sb.stats()
    _assert_clean(run.stdout, run.stderr, since=started, until=finished)
    # A scenario is evidence only if it did what it is here for: a run that failed
    # before sending anything has no output to leak into.
    if scenario.succeeds:
        assert run.returncode == 0, run.stderr[-2000:]
        assert len(run.ids()) == CONTACTS
    else:
        assert run.returncode != 0
        assert run.stderr.strip().splitlines()[-1].startswith("tap-heymarket: error: POST /v1/")
    if scenario.refused_with is not None:
        assert stats["by_status"].get(scenario.refused_with, 0) >= 1, stats
    if scenario.retries:
        assert "; retrying in " in run.stderr
        assert stats["requests"] >= 2, stats


def _mid_walk_state(line: bytes) -> bool:
    return b'"type":"STATE"' in line and b'"walk"' in line


def test_no_secret_in_a_killed_run() -> None:
    """A run SIGKILLed mid-walk (on its first STATE with a saved walk) after retries:
    `fault_seed` 1 fails the first two requests, whichever they are."""
    with _sandbox(fault_5xx=0.3, fault_seed=1) as sb:
        started = time.time()
        killed = run_until_killed(_config(sb, JWT), kill_on_line=_mid_walk_state, timeout=120)
        finished = time.time()
    assert killed.returncode == -signal.SIGKILL
    assert killed.states and "walk" in killed.states[-1]["bookmarks"]["contacts"]
    assert "; retrying in " in killed.stderr
    _assert_clean(killed.stderr, since=started, until=finished)


def test_no_secret_in_about_discovery_catalog_or_project_files() -> None:
    # Discovery with credentials reads the custom fields (one request), so it runs against
    # the sandbox, once per auth method (a config with both is refused before any request).
    with (
        tempfile.TemporaryDirectory() as tmp,
        Sandbox(contacts=10, secret_id=SECRET_ID, secret_key=SECRET_KEY, api_key=API_KEY) as sb,
    ):
        jwt = Path(tmp) / "jwt.json"
        jwt.write_text(json.dumps({"api_url": sb.url, **JWT}))
        legacy = Path(tmp) / "legacy.json"
        legacy.write_text(json.dumps({"api_url": sb.url, **LEGACY}))
        started = time.time()
        outputs = []
        for args in (
            ["--about"],
            ["--about", "--format=json"],
            ["--about", "--format=markdown"],
            ["--discover", "--config", str(jwt)],
            ["--discover", "--config", str(legacy)],
        ):
            proc = subprocess.run(
                [*TAP, *args],
                capture_output=True,
                text=True,
                cwd=REPO_ROOT,
                env=clean_env(),
                timeout=60,
            )
            assert proc.returncode == 0, proc.stderr
            outputs += [proc.stdout, proc.stderr]
        finished = time.time()
    _assert_clean(*outputs, since=started, until=finished)
    about = json.loads(
        subprocess.run(
            [
                *TAP,
                "--about",
                "--format=json",
            ],
            capture_output=True,
            text=True,
            cwd=REPO_ROOT,
            env=clean_env(),
            timeout=60,
        ).stdout
    )
    props = about["settings"]["properties"]
    for name in ("api_secret_id", "api_secret_key", "api_key"):
        assert props[name].get("secret") is True and props[name].get("writeOnly") is True
    meltano = (REPO_ROOT / "meltano.yml").read_text()
    for name in ("api_secret_id", "api_secret_key", "api_key"):
        block = meltano.split(f"name: {name}", 1)[1].split("- name:", 1)[0]
        assert "sensitive: true" in block, name
    _assert_clean((REPO_ROOT / "catalog" / "catalog.json").read_text(), meltano)
