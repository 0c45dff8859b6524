"""tap_heymarket/writer.py and the RECORD fast path in records.py.

The writer holds RECORD lines and writes them before any other message, at `BUFFER_BYTES`
and at exit; its bytes equal the SDK's own writer's. A stream map (alias, flattening)
sends records through the SDK's path instead, and still conformed.
"""

from __future__ import annotations

import json
import subprocess
import sys
import typing as t
from datetime import UTC, datetime

import pytest
from singer_sdk.contrib.msgspec import MsgSpecWriter
from singer_sdk.singerlib import RecordMessage, StateMessage

from heymarket_sandbox import Sandbox
from tap_heymarket import writer as writer_module
from tap_heymarket.writer import BUFFER_BYTES, BufferedMsgSpecWriter
from tests.support.tap_runner import REPO_ROOT, run_tap, sandbox_config

WHEN = datetime(2026, 12, 3, 12, 0, 0, 123456, tzinfo=UTC)


class RawOut:
    """A raw (unbuffered) stdout: every write is recorded, and takes at most `chunk` bytes."""

    def __init__(self, chunk: int = 1 << 30) -> None:
        self.chunk = chunk
        self.writes: list[bytes] = []
        self.flushes = 0

    def write(self, data: t.Any) -> int:
        taken = bytes(data[: self.chunk])
        self.writes.append(taken)
        return len(taken)

    def flush(self) -> None:
        self.flushes += 1

    @property
    def data(self) -> bytes:
        return b"".join(self.writes)


class FakeStdout:
    def __init__(self, raw: RawOut) -> None:
        self.buffer = raw


def _raw_stdout(monkeypatch: pytest.MonkeyPatch) -> RawOut:
    """A raw stdout in place of pytest's (set inside the test: its capture resets stdout
    between a fixture and the test)."""
    out = RawOut(chunk=100)  # partial writes, as a raw file may do
    monkeypatch.setattr(sys, "stdout", FakeStdout(out))
    return out


def _record(i: int) -> RecordMessage:
    return RecordMessage(stream="tags", record={"id": i, "name": f"t{i}"}, time_extracted=WHEN)


def _sdk_bytes(*messages: t.Any) -> bytes:
    sdk = MsgSpecWriter()
    return b"".join(bytes(sdk.format_message(m)) for m in messages)


def test_records_wait_for_the_next_other_message(monkeypatch: pytest.MonkeyPatch) -> None:
    raw = _raw_stdout(monkeypatch)
    w = BufferedMsgSpecWriter()
    records = [_record(i) for i in range(3)]
    for message in records:
        w.write_message(message)
    assert raw.writes == [], "a RECORD was written before any STATE"
    state = StateMessage(value={"bookmarks": {"tags": {}}})
    w.write_message(state)
    assert raw.data == _sdk_bytes(*records, state)
    assert raw.flushes == 1


def test_write_record_writes_the_sdk_bytes(monkeypatch: pytest.MonkeyPatch) -> None:
    raw = _raw_stdout(monkeypatch)
    w = BufferedMsgSpecWriter()
    w.write_record("tags", {"id": 1, "name": "t1"}, None, WHEN)
    w.write_record("tags", {"id": 2, "name": "t2"}, 1700000000000, WHEN)
    w.flush()
    versioned = RecordMessage(
        stream="tags", record={"id": 2, "name": "t2"}, version=1700000000000, time_extracted=WHEN
    )
    assert raw.data == _sdk_bytes(_record(1), versioned)


def test_a_full_buffer_is_written_before_any_state(monkeypatch: pytest.MonkeyPatch) -> None:
    raw = _raw_stdout(monkeypatch)
    w = BufferedMsgSpecWriter()
    one = len(_sdk_bytes(_record(0)))
    count = BUFFER_BYTES // one + 2
    for i in range(count):
        w.write_message(_record(i))
    assert raw.data, "nothing written after more than BUFFER_BYTES of records"
    assert len(raw.data) >= BUFFER_BYTES
    w.flush()
    assert raw.data == _sdk_bytes(*(_record(i) for i in range(count)))


def test_what_is_held_is_written_at_exit() -> None:
    """A process that ends after a RECORD and before any STATE still writes it, with
    stdout unbuffered (`PYTHONUNBUFFERED`, as many containers set)."""
    code = (
        "from datetime import UTC, datetime\n"
        "from tap_heymarket.writer import BufferedMsgSpecWriter\n"
        "w = BufferedMsgSpecWriter()\n"
        "w.write_record('tags', {'id': 7}, None, datetime(2026, 1, 1, tzinfo=UTC))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-u", "-c", code],
        capture_output=True,
        cwd=REPO_ROOT,
        check=True,
        env={"PYTHONUNBUFFERED": "1", "PATH": "/usr/bin:/bin"},
    )
    assert json.loads(proc.stdout) == {
        "type": "RECORD",
        "stream": "tags",
        "record": {"id": 7},
        "time_extracted": "2026-01-01T00:00:00Z",
    }


def test_the_buffer_size_is_a_module_setting() -> None:
    assert writer_module.BUFFER_BYTES == BUFFER_BYTES > 0


@pytest.fixture(scope="module")
def sandbox() -> t.Iterator[Sandbox]:
    with Sandbox(contacts=30, seed=3, shapes="all") as sb:
        yield sb


def _catalog_with(stream: str) -> dict[str, t.Any]:
    catalog = json.loads((REPO_ROOT / "catalog" / "catalog.json").read_text())
    for entry in catalog["streams"]:
        for meta in entry["metadata"]:
            if meta["breadcrumb"] == []:
                meta["metadata"]["selected"] = entry["tap_stream_id"] == stream
    return dict(catalog)


@pytest.mark.slow
def test_stream_maps_take_the_sdk_path_conformed(sandbox: Sandbox) -> None:
    """An alias and flattening (which the direct path cannot do) still apply, and the
    records are the plain run's, conformed the same way."""
    catalog = _catalog_with("inboxes")
    plain = run_tap(sandbox_config(sandbox.url), catalog=catalog)
    assert plain.returncode == 0, plain.stderr[-2000:]
    rows = plain.records["inboxes"]
    assert rows, "the plain run emitted no inboxes"

    aliased = run_tap(
        sandbox_config(sandbox.url, stream_maps={"inboxes": {"__alias__": "phone_lines"}}),
        catalog=catalog,
    )
    assert aliased.returncode == 0, aliased.stderr[-2000:]
    assert "inboxes" not in aliased.records
    assert aliased.records["phone_lines"] == rows

    flat = run_tap(
        sandbox_config(sandbox.url, flattening_enabled=True, flattening_max_depth=1),
        catalog=catalog,
    )
    assert flat.returncode == 0, flat.stderr[-2000:]
    nested = [k for k, v in rows[0].items() if isinstance(v, dict)]
    assert nested, "no JSON object column in inboxes to flatten"
    flattened = flat.records["inboxes"][0]
    assert not any(k in flattened for k in nested)
    assert any(k.startswith(f"{nested[0]}__") for k in flattened)
