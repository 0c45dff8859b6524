"""Singer messages to stdout, written where a reader needs them, not one write per record.

The SDK's msgspec writer (`singer_sdk.contrib.msgspec.MsgSpecWriter`, several times faster
than the default simplejson one) flushes stdout after every message: one `write` system
call per RECORD, a measurable share of a sync (docs/benchmarks.md). Python's own stdout
buffer does not help where it matters: with `PYTHONUNBUFFERED=1` (or `python -u`), which
many container images and schedulers set, `sys.stdout.buffer` is the raw file and every
`write` is a system call.

`BufferedMsgSpecWriter` therefore keeps RECORD lines in its own buffer, and writes them
(and flushes stdout) before any other message (SCHEMA, STATE, ACTIVATE_VERSION, BATCH),
when the buffer reaches `BUFFER_BYTES`, and at exit. A target still has every record
before the STATE that covers it, and a tap killed between two STATE messages leaves a
target exactly what the last STATE covers, or more, as before. `write_record` is the
same RECORD line without the message object, for records.py's fast path; a STATE line is
written without the SDK's deep copy of the state.
tests/unit/test_writer.py checks the order and the write count, tests/tap/test_writer.py the
flush at exit.
"""

from __future__ import annotations

import atexit
import sys
import typing as t
from datetime import UTC, datetime

from singer_sdk.contrib.msgspec import MsgSpecWriter, encoder
from singer_sdk.singerlib import Message, RecordMessage, StateMessage

#: RECORD bytes held before they are written (about 60 messages, or one API page).
BUFFER_BYTES = 1 << 16


class BufferedMsgSpecWriter(MsgSpecWriter):
    """`MsgSpecWriter` that writes RECORD lines in blocks and flushes on every other message."""

    def __init__(self) -> None:
        super().__init__()
        self._pending = bytearray()
        atexit.register(self.flush)

    def write_message(self, message: Message) -> None:
        """Write `message` to stdout: a RECORD into the buffer, any other after it, flushed."""
        if type(message) is StateMessage:
            # The SDK's `to_dict` deep-copies the whole state (`dataclasses.asdict`) before
            # encoding it, once per page here: the same bytes, without the copy.
            encoder.encode_into({"type": "STATE", "value": message.value}, self._pending, -1)
            self._pending += b"\n"
            self.flush()
            return
        self._pending += self.format_message(message)  # (a copy: the SDK reuses its buffer)
        if type(message) is not RecordMessage or len(self._pending) >= BUFFER_BYTES:
            self.flush()

    def write_record(
        self,
        stream: str,
        record: dict[str, t.Any],
        version: int | None,
        time_extracted: datetime | None = None,
    ) -> None:
        """The RECORD message `RecordMessage(stream, record, version, now)` would write, in
        the same bytes, without building the message object (records.py's fast path)."""
        message: dict[str, t.Any] = {"type": "RECORD", "stream": stream, "record": record}
        if version is not None:
            message["version"] = version
        message["time_extracted"] = time_extracted or datetime.now(UTC)
        pending = self._pending
        encoder.encode_into(message, pending, -1)  # appended (-1: at the end)
        pending += b"\n"
        if len(pending) >= BUFFER_BYTES:
            self.flush()

    def flush(self) -> None:
        """Write what the buffer holds and flush stdout."""
        if not self._pending:
            return
        out, data = sys.stdout.buffer, self._pending
        written = out.write(data)
        # A raw stdout (`PYTHONUNBUFFERED`) may take part of a large write: write the rest.
        while written is not None and written < len(data):
            del data[:written]
            written = out.write(data)
        data.clear()
        out.flush()
