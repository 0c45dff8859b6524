"""Singer messages to stdout, flushed where a reader needs them, not after every record.

The SDK's msgspec writer (`singer_sdk.contrib.msgspec.MsgSpecWriter`, several times faster
than the default simplejson one) flushes stdout after every message: one `write` system
call per RECORD, a measurable share of a sync (docs/benchmarks.md). `BufferedMsgSpecWriter`
writes RECORD messages into stdout's buffer and flushes on every other message (SCHEMA,
STATE, ACTIVATE_VERSION, BATCH): a target still has every record before the STATE that
covers it, at once, and a tap killed between two STATE messages leaves a target exactly
what the last STATE covers, or more, as before. The interpreter flushes the rest at exit.
"""

from __future__ import annotations

import sys

from singer_sdk.contrib.msgspec import MsgSpecWriter
from singer_sdk.singerlib import Message, RecordMessage


class BufferedMsgSpecWriter(MsgSpecWriter):
    """`MsgSpecWriter` that flushes stdout on every message but RECORD."""

    def write_message(self, message: Message) -> None:
        """Write `message` to stdout; flush unless it is a RECORD."""
        out = sys.stdout.buffer
        out.write(self.format_message(message))
        if type(message) is not RecordMessage:
            out.flush()
