"""Both auth methods work; bad credentials fail at once with one clear line; tokens stay fresh."""

from __future__ import annotations

import pytest

from heymarket_sandbox import Sandbox
from tests.support.tap_runner import run_tap, sandbox_config, truth_ids


@pytest.mark.parametrize("legacy", [False, True], ids=["jwt", "legacy-api-key"])
def test_auth_methods_sync_everything(legacy: bool) -> None:
    with Sandbox(contacts=300, seed=1) as sb:
        run = run_tap(sandbox_config(sb.url, legacy=legacy))
        assert run.returncode == 0, run.stderr[-2000:]
        assert set(run.ids()) == truth_ids(sb.truth())
        assert sb.stats()["unauthorized"] == 0


@pytest.mark.parametrize(
    "bad",
    [
        {"api_secret_id": "sandbox-secret-id", "api_secret_key": "WRONG-KEY-7f3a9c"},
        {"api_secret_id": "nobody-5e1d", "api_secret_key": "sandbox-secret-key"},
        {"api_key": "WRONG-API-KEY-2b8e"},
    ],
    ids=["wrong-secret-key", "unknown-secret-id", "wrong-api-key"],
)
def test_bad_credentials_fail_fast_and_clearly(bad: dict) -> None:
    with Sandbox(contacts=50, seed=1) as sb:
        config = {"api_url": sb.url, **bad}
        run = run_tap(config)
        attempts = sb.stats()["unauthorized"]
    assert run.returncode != 0
    last = run.stderr.strip().splitlines()[-1]
    assert last.startswith("tap-heymarket: error: POST /v1/")
    assert "401" in last and "X-Request-Id: req" in last
    assert "api_secret_id/api_secret_key" in last
    assert "Traceback" not in run.stderr
    assert attempts == 1, "a 401 is not retried"
    for value in bad.values():
        if value.startswith(("WRONG", "nobody")):
            assert value not in run.stderr and value not in run.stdout


def test_sync_longer_than_the_jwt_lifetime() -> None:
    """The sandbox rejects tokens older than 2 s; the sync takes longer and never sees a 401."""
    with Sandbox(contacts=1500, seed=2, jwt_ttl=2, latency_ms=150) as sb:
        run = run_tap(sandbox_config(sb.url, page_size=100))
        stats = sb.stats()
        truth = truth_ids(sb.truth())
    assert run.returncode == 0, run.stderr[-2000:]
    assert stats["unauthorized"] == 0
    assert set(run.ids()) == truth
    # 15+ pages at 150 ms each: the run outlives several token lifetimes.
    assert sum(stats["by_path"]["/v1/contacts"].values()) >= 16
