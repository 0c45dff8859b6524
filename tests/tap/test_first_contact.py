"""What a team's first day meets, against the sandbox: a wrong `api_url`, plain http to
another machine, a certificate that does not verify, a state file that is not the tap's (or
not there, or not JSON), a misspelt setting. Each ends in one line that names the setting or
the file, exit 1 and no request; a wrong address within seconds, not a minute of retries.
In process, the retry loop's first-contact rule: tests/sandbox/test_client.py."""

from __future__ import annotations

import json
import socket
import ssl
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from heymarket_sandbox import Sandbox
from tap_heymarket.state import START_OVER
from tests.support.tap_runner import (
    TapRun,
    run_tap,
    sandbox_config,
)

#: "Does not hang": a wrong address fails well inside this, where retries took a minute.
FAST = 15.0


def error_lines(run: TapRun) -> list[str]:
    assert run.returncode == 1, run.stderr[-2000:]
    assert "Traceback" not in run.stderr
    return [line for line in run.stderr.splitlines() if "tap-heymarket: error:" in line]


def timed(config: dict, **kwargs: object) -> tuple[TapRun, float]:
    start = time.monotonic()
    run = run_tap(config, timeout=120, **kwargs)  # type: ignore[arg-type]
    return run, time.monotonic() - start


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_name_that_does_not_resolve_fails_at_once() -> None:
    url = "https://api.heymarket.invalid"
    run, took = timed(sandbox_config(url))
    assert error_lines(run) == [
        f"tap-heymarket: error: cannot reach the Heymarket API: api.heymarket.invalid does "
        f"not resolve (api_url {url}); check the api_url setting"
    ]
    assert took < FAST, took
    assert "retrying" not in run.stderr


def test_a_refused_connection_is_retried_for_seconds_then_named() -> None:
    port = closed_port()
    url = f"http://127.0.0.1:{port}"
    run, took = timed(sandbox_config(url))
    assert error_lines(run) == [
        f"tap-heymarket: error: cannot reach the Heymarket API: 127.0.0.1:{port} refused the "
        f"connection (api_url {url}); check the api_url setting"
    ]
    assert run.stderr.count("retrying in") == 3
    assert took < FAST, took


def test_plain_http_to_another_machine_is_refused_before_any_request() -> None:
    run = run_tap(sandbox_config("http://api.heymarket.com"))
    (line,) = error_lines(run)
    assert "api_url 'http://api.heymarket.com' is plain http to another machine" in line
    assert "use https://" in line


@pytest.fixture(scope="module")
def untrusted_https(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """An HTTPS server on this machine with a self-signed certificate nobody trusts."""
    tmp = tmp_path_factory.mktemp("tls")
    key, cert = tmp / "key.pem", tmp / "cert.pem"
    subprocess.run(
        [
            *("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"),
            *("-subj", "/CN=localhost", "-keyout", str(key), "-out", str(cert)),
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]
    stop = threading.Event()

    def serve() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            try:
                with context.wrap_socket(conn, server_side=True):
                    pass
            except (ssl.SSLError, OSError):
                pass  # the client refused our certificate: as it should

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield f"https://localhost:{port}"
    stop.set()
    thread.join()
    server.close()


def test_a_certificate_that_does_not_verify_fails_at_once(untrusted_https: str) -> None:
    run, took = timed(sandbox_config(untrusted_https))
    assert error_lines(run) == [
        "tap-heymarket: error: cannot reach the Heymarket API: localhost presented a TLS "
        f"certificate that does not verify (api_url {untrusted_https}); check the api_url setting"
    ]
    assert took < FAST, took


# --------------------------------------------------------------------------- state files


def state_run(sb: Sandbox, state_text: str | None, path: str | None = None) -> TapRun:
    """The tap with a `--state` file holding `state_text` (or the path `path` as given)."""
    with tempfile.TemporaryDirectory() as tmp:
        state = Path(path) if path else Path(tmp) / "state.json"
        if state_text is not None:
            state.write_text(state_text)
        return run_tap(sandbox_config(sb.url), args=["--state", str(state)], timeout=120)


def test_a_missing_state_file_is_named() -> None:
    with Sandbox(contacts=20) as sb:
        run = state_run(sb, None, path="/nonexistent/state.json")
        assert sb.stats()["requests"] == 0
    assert error_lines(run) == [
        "tap-heymarket: error: --state /nonexistent/state.json: no such file"
    ]


def test_another_tap_s_state_is_refused_with_how_to_start_over() -> None:
    foreign = {"bookmarks": {"users": {"replication_key_value": "2024-01-01T00:00:00Z"}}}
    with Sandbox(contacts=20) as sb:
        run = state_run(sb, json.dumps(foreign))
        assert sb.stats()["requests"] == 0
    (line,) = error_lines(run)
    assert "it has bookmarks only for streams tap-heymarket does not have (users)" in line
    assert line.endswith(START_OVER)
    assert "meltano state clear" in line and "--full-refresh" in line


def test_meltano_s_wrapper_is_unwrapped_and_a_stray_stream_is_named() -> None:
    """`meltano state get` prints `{"singer_state": {...}}`: the tap's state inside it is
    used (the rerun is incremental); a bookmark of a stream the tap lacks gets a WARNING."""
    with Sandbox(contacts=300, seed=5) as sb:
        full = run_tap(sandbox_config(sb.url))
        assert full.returncode == 0, full.stderr[-2000:]
        state = {**full.final_state}
        state["bookmarks"] = {**state["bookmarks"], "users": {}}
        run = state_run(sb, json.dumps({"singer_state": state}))
    assert run.returncode == 0, run.stderr[-2000:]
    assert not run.records.get("contacts"), "the wrapped state was not used"
    assert "the tap's state inside Meltano's 'singer_state' is used" in run.stderr
    warnings = [line for line in run.stderr.splitlines() if "does not have are ignored" in line]
    assert len(warnings) == 1 and warnings[0].endswith(": users") and "WARNING" in warnings[0]


def test_a_misspelt_setting_is_named_with_the_closest_one() -> None:
    with Sandbox(contacts=20) as sb:
        run = run_tap({**sandbox_config(sb.url), "page_sise": 100, "zzz": 1})
    assert run.returncode == 0, run.stderr[-2000:]
    warnings = [line for line in run.stderr.splitlines() if "is not a setting" in line]
    assert len(warnings) == 2, warnings
    assert any(
        "config: 'page_sise' is not a setting of tap-heymarket and is ignored (did you mean "
        "page_size?)" in line
        for line in warnings
    )
    assert any(
        line.endswith("config: 'zzz' is not a setting of tap-heymarket and is ignored")
        for line in warnings
    )
