"""Run tap-heymarket as a real subprocess and read its Singer output.

Tests judge the tap by what it writes (RECORD, STATE, its exit code and stderr) and by
the sandbox's own truth, never by the tap's internals.
"""

from __future__ import annotations

import base64
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus

import pytest

# clean_env: the environment minus anything that configures the tap or Meltano.
from heymarket_dev.meltano import clean_env
from heymarket_sandbox import API_KEY, SECRET_ID, SECRET_KEY, make_jwt
from tap_heymarket import timestamps

REPO_ROOT = Path(__file__).resolve().parents[2]
TAP = [sys.executable, "-m", "tap_heymarket"]


def sandbox_config(url: str, *, legacy: bool = False, **extra: Any) -> dict[str, Any]:
    """A config for the sandbox; fast pacing unless a test asks otherwise."""
    config: dict[str, Any] = {"api_url": url, "max_requests_per_minute": 100_000}
    if legacy:
        config["api_key"] = API_KEY
    else:
        config["api_secret_id"] = SECRET_ID
        config["api_secret_key"] = SECRET_KEY
    config.update(extra)
    return config


@dataclass
class TapRun:
    """The outcome of one tap process."""

    returncode: int
    stdout: str
    stderr: str
    messages: list[dict[str, Any]] = field(default_factory=list)

    @property
    def records(self) -> dict[str, list[dict[str, Any]]]:
        out: dict[str, list[dict[str, Any]]] = {}
        for m in self.messages:
            if m.get("type") == "RECORD":
                out.setdefault(m["stream"], []).append(m["record"])
        return out

    def ids(self, stream: str = "contacts") -> list[int]:
        return [r["id"] for r in self.records.get(stream, [])]

    def revs(self, stream: str) -> dict[int, Any]:
        """id -> rev of the stream's records, last wins: the `updated` string for records
        without a rev (messages' truth holds `updated`), None without either."""
        return {r["id"]: r.get("rev", r.get("updated")) for r in self.records.get(stream, [])}

    def duplicates(self, stream: str = "contacts") -> dict[int, int]:
        return {k: v for k, v in Counter(self.ids(stream)).items() if v > 1}

    def metric(self, name: str) -> dict[str, Any]:
        """The last METRIC log line named `name`, decoded."""
        for line in reversed(self.stderr.splitlines()):
            if "METRIC:" in line and f'"metric":"{name}"' in line:
                return dict(json.loads(line.split("METRIC:", 1)[1]))
        raise AssertionError(f"no {name} metric in the tap's log")

    @property
    def states(self) -> list[dict[str, Any]]:
        return [m["value"] for m in self.messages if m.get("type") == "STATE"]

    @property
    def final_state(self) -> dict[str, Any] | None:
        states = self.states
        return states[-1] if states else None

    def bookmark(self, stream: str = "contacts") -> str | None:
        state = self.final_state or {}
        return state.get("bookmarks", {}).get(stream, {}).get("replication_key_value")


def parse_messages(stdout: str) -> list[dict[str, Any]]:
    messages = []
    for line in stdout.splitlines():
        line = line.strip()
        if line:
            messages.append(json.loads(line))
    return messages


def write_json(data: Any, directory: Path, name: str) -> Path:
    path = directory / name
    path.write_text(json.dumps(data))
    return path


def run_tap(
    config: dict[str, Any],
    *,
    state: dict[str, Any] | None = None,
    catalog: dict[str, Any] | None = None,
    args: list[str] | None = None,
    timeout: float = 600,
    env: dict[str, str] | None = None,
) -> TapRun:
    """Run the tap to completion with the given config/state/catalog."""
    with tempfile.TemporaryDirectory() as tmp:
        tmpdir = Path(tmp)
        cmd = [*TAP, "--config", str(write_json(config, tmpdir, "config.json"))]
        if state is not None:
            cmd += ["--state", str(write_json(state, tmpdir, "state.json"))]
        if catalog is not None:
            cmd += ["--catalog", str(write_json(catalog, tmpdir, "catalog.json"))]
        cmd += args or []
        started = time.time()
        proc = subprocess.run(
            cmd,
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=REPO_ROOT,
            env=env or clean_env(),
        )
    assert_no_secrets(config, proc.stdout, proc.stderr, since=started, until=time.time())
    messages = parse_messages(proc.stdout) if proc.returncode == 0 or proc.stdout else []
    return TapRun(proc.returncode, proc.stdout, proc.stderr, messages)


SECRET_SETTINGS = ("api_secret_id", "api_secret_key", "api_key")
#: Every JWT starts with the base64url of '{"alg":"HS256","typ":"JWT"}'.
JWT_PREFIX = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9"
#: A whole JWT: three base64url segments.
JWT_SHAPE = re.compile(r"[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{20,}")
#: One segment of a JWT's header or payload: base64url of a JSON object ('{"' is "eyJ").
JWT_JSON_SEGMENT = re.compile(r"eyJ[A-Za-z0-9_-]{10,}")
#: Runs of base64 (standard or urlsafe) characters: where an encoded secret would sit.
_BASE64_RUN = re.compile(r"[A-Za-z0-9+/_=-]{8,}")
#: Encoded fragments shorter than this are too likely by chance to mean anything.
_MIN_FRAGMENT = 8
#: Slack, in seconds, around a run for the `iat` of the tokens it may have minted.
_IAT_SLACK = 2


def _base64_fragments(secret: str) -> set[str]:
    """What any base64 encoding (standard or urlsafe, padded or not) of a text holding
    `secret` must contain, wherever in the text the secret starts: for each of the three
    alignments, the characters that depend on the secret's bytes alone."""
    raw = secret.encode()
    out = set()
    for shift in range(3):
        total = shift + len(raw)
        encoded = base64.b64encode(b"\0" * shift + raw).decode()
        # Characters mixing prefix bits (leading) or following bytes (trailing) are dropped.
        middle = encoded[(0, 2, 3)[shift] : 4 * (total // 3)]
        if len(middle) >= _MIN_FRAGMENT:
            out |= {middle, middle.replace("+", "-").replace("/", "_")}
    return out


def _jwt_parts(secret_id: str, secret_key: str, since: float, until: float) -> set[str]:
    """The payload and signature of every token minted with these secrets between `since`
    and `until` (one per whole second of `iat`), in base64url and standard base64."""
    parts = set()
    for iat in range(int(since) - _IAT_SLACK, int(until) + _IAT_SLACK + 1):
        _, payload, signature = make_jwt(secret_id, secret_key, iat).split(".")
        std = base64.b64encode(base64.urlsafe_b64decode(signature + "=")).decode()
        parts |= {payload, signature, std.rstrip("=")}
    return parts


def assert_no_secrets(
    config: dict[str, Any],
    *outputs: str,
    since: float | None = None,
    until: float | None = None,
) -> None:
    """Every tap run in the suite checks that no secret or minted token leaked.

    Looked for: each secret setting and the JWT's HMAC key (`<id>||<key>`), as they are,
    URL-encoded and in base64 (standard or urlsafe, padded or not, at any offset); any
    JWT-shaped string; any base64url JSON segment (a token's header or payload, with or
    without the rest of the token); and the exact payload and signature of each token
    the run could have minted (`since`..`until`, the run's start and end).
    """
    secrets = [str(config[k]) for k in SECRET_SETTINGS if config.get(k)]
    secret_id, secret_key = config.get("api_secret_id"), config.get("api_secret_key")
    if secret_id and secret_key:
        secrets.append(f"{secret_id}||{secret_key}")
    plain = {form for s in secrets for form in (s, quote(s, safe=""), quote_plus(s))}
    encoded = {fragment for s in secrets for fragment in _base64_fragments(s)}
    if secret_id and secret_key:
        now = time.time()
        encoded |= _jwt_parts(
            str(secret_id),
            str(secret_key),
            now if since is None else since,
            now if until is None else until,
        )
    for n, output in enumerate(outputs):
        where = f"output #{n} of the tap"
        for form in plain:
            assert form not in output, f"a secret setting (or its URL encoding) is in {where}"
        assert JWT_PREFIX not in output, f"a JWT header is in {where}"
        shaped = JWT_SHAPE.search(output)
        assert shaped is None, f"a JWT-shaped string is in {where} at {shaped and shaped.start()}"
        segment = JWT_JSON_SEGMENT.search(output)
        assert segment is None, (
            f"a base64url JSON segment (JWT header or payload) is in {where} "
            f"at {segment and segment.start()}"
        )
        runs = "\n".join(set(_BASE64_RUN.findall(output)))
        for fragment in encoded:
            assert fragment not in runs, (
                f"a base64-encoded secret or a minted token's payload or signature is in {where}"
            )


def truth_ids(truth: dict[str, Any]) -> set[int]:
    return {int(k) for k in truth["contacts"]}


#: Streams of the tap, each with its entry in the sandbox's `truth()["streams"]`.
STREAMS = (
    "contacts",
    "contact_fields",
    "tags",
    "inboxes",
    "team_members",
    "templates",
    "surveys",
    "messages",
    "conversations",
)


def stream_truth(truth: dict[str, Any], stream: str) -> dict[int, Any]:
    """id -> rev (None where the API has no rev) of what the sandbox can list for `stream`."""
    return {int(k): v for k, v in truth["streams"][stream]["ids"].items()}


def assert_streams_match_truth(
    seen: dict[str, dict[int, Any]], truth: dict[str, Any], streams: tuple[str, ...] = STREAMS
) -> None:
    """Every stream holds exactly the truth's ids, each at its latest rev."""
    for stream in streams:
        expected = stream_truth(truth, stream)
        got = seen.get(stream, {})
        missing = sorted(set(expected) - set(got))[:5]
        extra = sorted(set(got) - set(expected))[:5]
        assert not missing and not extra, f"{stream}: missing {missing}, unexpected {extra}"
        stale = [i for i, rev in expected.items() if rev is not None and not _same(got[i], rev)]
        assert not stale, f"{stream}: records at an old rev: {stale[:5]}"


def _same(got: Any, want: Any) -> bool:
    """Equal revs; or, for streams whose truth holds `updated` (messages), equal instants."""
    if isinstance(want, str):
        return isinstance(got, str) and timestamps.parse(got) == timestamps.parse(want)
    return bool(got == want)


# -- kill and resume ---------------------------------------------------------------------

#: SIGKILL leaves sockets and pipes half-closed on purpose; warnings from their cleanup
#: (they surface at random GC moments) are about the kill, not about the tap.
KILL_WARNINGS = (
    pytest.mark.filterwarnings("ignore::ResourceWarning"),
    pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning"),
)


@dataclass
class KilledRun:
    """What a tap process wrote before it ended or was SIGKILLed."""

    messages: list[dict[str, Any]]
    returncode: int | None
    stderr: str

    @property
    def states(self) -> list[dict[str, Any]]:
        return [m["value"] for m in self.messages if m.get("type") == "STATE"]


def at_record(n: int) -> Callable[[bytes], bool]:
    """A `kill_on_line` that holds from the `n`-th RECORD line on.

    The tap flushes its RECORD lines at every other message (tap_heymarket/writer.py), and a
    request follows every flush but the last, so a kill there lands while the tap still
    runs: at a point in its output, never at a wall-clock instant."""
    seen = 0

    def nth(line: bytes) -> bool:
        nonlocal seen
        seen += line.startswith(b'{"type":"RECORD"')
        return seen >= n

    return nth


def run_until_killed(
    config: dict[str, Any],
    *,
    state: dict[str, Any] | None = None,
    catalog: dict[str, Any] | None = None,
    kill_after: float | None = None,
    kill_when: Callable[[], bool] | None = None,
    kill_on_line: Callable[[bytes], bool] | None = None,
    timeout: float = 300,
) -> KilledRun:
    """Run the tap and SIGKILL it `kill_after` seconds in, once `kill_when()` holds (polled),
    or right after a stdout line for which `kill_on_line(line)` holds; with none of them it
    runs to its end. Returns the complete lines it wrote: a kill can cut the last one, and
    a target would drop it too."""
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [*TAP]
        for name, value in (("config", config), ("catalog", catalog), ("state", state)):
            if value is not None:
                cmd += [f"--{name}", str(write_json(value, Path(tmp), f"{name}.json"))]
        log = Path(tmp) / "stderr.log"
        lines: list[bytes] = []
        began = time.time()
        with (
            log.open("wb") as err,
            subprocess.Popen(
                cmd, stdout=subprocess.PIPE, stderr=err, cwd=REPO_ROOT, env=clean_env()
            ) as proc,
        ):
            stdout = proc.stdout
            assert stdout is not None

            def kill() -> None:
                if proc.poll() is None:
                    os.kill(proc.pid, signal.SIGKILL)

            def read() -> None:
                for line in stdout:
                    lines.append(line)
                    if kill_on_line is not None and kill_on_line(line):
                        kill()
                        return

            reader = threading.Thread(target=read, daemon=True)
            reader.start()
            started = time.monotonic()
            while proc.poll() is None:
                elapsed = time.monotonic() - started
                if elapsed > timeout:
                    kill()
                    pytest.fail(f"the tap ran longer than {timeout} s")
                if (kill_after is not None and elapsed >= kill_after) or (
                    kill_when is not None and kill_when()
                ):
                    kill()
                    break
                time.sleep(0.02)
            proc.wait()
            reader.join(timeout=30)
        text = b"".join(lines).decode(errors="replace")
        stderr = log.read_text(errors="replace")
        # Killed runs too: the whole output, the line the kill cut included.
        assert_no_secrets(config, text, stderr, since=began, until=time.time())
        complete = text[: text.rfind("\n") + 1] if "\n" in text else ""
        return KilledRun(parse_messages(complete), proc.returncode, stderr)
