"""No secret (API key, secret key, secret id or minted JWT) appears in any output.

Every `run_tap` in the suite already asserts this for its own config; this module runs
the failure scenarios with distinctive secret values and also greps `--about`, discovery,
the committed catalog and meltano.yml.
"""

from __future__ import annotations

import json
import subprocess
import tempfile
from pathlib import Path

import pytest

from heymarket_sandbox import Sandbox
from tests.tap_runner import JWT_PREFIX, REPO_ROOT, TAP, clean_env, run_tap

# Runs the tap as a subprocess against the sandbox: not in `make unit`.
pytestmark = pytest.mark.slow

SECRET_ID = "sid-Zq81-distinctive"
SECRET_KEY = "skey-Hh42-VERY-distinctive"
API_KEY = "apikey-Pp77-distinctive"
SECRETS = (SECRET_ID, SECRET_KEY, API_KEY)

SCENARIOS = {
    "jwt-ok": ({}, {"api_secret_id": SECRET_ID, "api_secret_key": SECRET_KEY}),
    "legacy-ok": ({}, {"api_key": API_KEY}),
    "jwt-wrong-key": ({}, {"api_secret_id": SECRET_ID, "api_secret_key": SECRET_KEY + "x"}),
    "legacy-wrong-key": ({}, {"api_key": API_KEY + "x"}),
    "flaky": (
        {"fault_5xx": 0.2, "fault_truncate": 0.1, "fault_drop": 0.1},
        {"api_secret_id": SECRET_ID, "api_secret_key": SECRET_KEY},
    ),
    "rate-limited": (
        {"rate_limit": 5, "rate_window": 1, "retry_after": "auto"},
        {"api_secret_id": SECRET_ID, "api_secret_key": SECRET_KEY},
    ),
    "forbidden": ({"force_status": 403}, {"api_key": API_KEY}),
    "malformed": ({"force_body": "html"}, {"api_key": API_KEY, "max_retries": 1}),
}


def _assert_clean(*outputs: str) -> None:
    for output in outputs:
        for secret in SECRETS:
            assert secret not in output
        assert JWT_PREFIX not in output


@pytest.mark.parametrize(("switches", "auth"), SCENARIOS.values(), ids=SCENARIOS.keys())
def test_no_secret_in_any_output(switches: dict, auth: dict) -> None:
    with Sandbox(
        contacts=300,
        secret_id=SECRET_ID,
        secret_key=SECRET_KEY,
        api_key=API_KEY,
        **switches,
    ) as sb:
        config = {"api_url": sb.url, "max_requests_per_minute": 100_000, "page_size": 50, **auth}
        run = run_tap(config)
    _assert_clean(run.stdout, run.stderr)
    if "wrong" in str(switches) or "x" in (
        auth.get("api_key", "")[-1:] + auth.get("api_secret_key", "")[-1:]
    ):
        assert run.returncode != 0


def test_no_secret_in_about_discovery_catalog_or_project_files() -> None:
    # Discovery with credentials reads the custom fields (one request), so it runs against
    # the sandbox, once per auth method (a config with both is refused before any request).
    with (
        tempfile.TemporaryDirectory() as tmp,
        Sandbox(contacts=10, secret_id=SECRET_ID, secret_key=SECRET_KEY, api_key=API_KEY) as sb,
    ):
        jwt = Path(tmp) / "jwt.json"
        jwt.write_text(
            json.dumps(
                {"api_url": sb.url, "api_secret_id": SECRET_ID, "api_secret_key": SECRET_KEY}
            )
        )
        legacy = Path(tmp) / "legacy.json"
        legacy.write_text(json.dumps({"api_url": sb.url, "api_key": API_KEY}))
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
    _assert_clean(*outputs)
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
