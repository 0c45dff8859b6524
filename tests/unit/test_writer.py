"""tap_heymarket/writer.py, in process.

The writer holds RECORD lines and writes them before any other message and at
`BUFFER_BYTES`; its bytes equal the SDK's own writer's. At exit, and the stream maps that
take the SDK's path: tests/tap/test_writer.py.
"""

from __future__ import annotations

import sys
import typing as t
from datetime import UTC, datetime

import pytest
from singer_sdk.contrib.msgspec import MsgSpecWriter
from singer_sdk.singerlib import RecordMessage, StateMessage

from tap_heymarket import writer as writer_module
from tap_heymarket.writer import BUFFER_BYTES, BufferedMsgSpecWriter

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


def test_the_buffer_size_is_a_module_setting() -> None:
    assert writer_module.BUFFER_BYTES == BUFFER_BYTES > 0


def test_a_state_is_written_in_the_sdk_bytes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    raw = _raw_stdout(monkeypatch)
    w = BufferedMsgSpecWriter()
    value = {
        "bookmarks": {
            "messages": {"replication_key_value": "2026-01-01T00:00:00+00:00", "n": [1, None]},
            "contacts": {"progress_markers": {"note": "\u00e9\u0000", "ok": True, "x": 1.5}},
        }
    }
    state = StateMessage(value=value)
    w.write_message(state)
    assert raw.data == _sdk_bytes(state)
    assert raw.flushes == 1
