"""RECORD messages: every record conformed to its schema, in one pass.

The SDK prepares each record in `Stream._generate_record_messages`: the selection walk
(`pop_deselected_record_properties`), then `conform_record_data_types`, which drops what
the schema does not list and turns some values into booleans, but lets any other wrong
type through, so a record can break the SCHEMA message the tap sent (and the load).
`ConformedRecordMessages` replaces that conformance with the tap's own
(`conformance.py`): every record validates against its schema, and nothing is lost. The
selection walk is kept, and skipped when every property is selected (it can pop nothing).

Writing: with no stream map (no alias, filter or flattening: the usual case), a record
goes straight to the tap's writer as one RECORD line (`BufferedMsgSpecWriter.write_record`),
without the SDK's message object and its four calls; with any map, the SDK's own path
(`_generate_record_messages`) writes it, conformed the same way.

This module is the tap's ONLY use of the SDK's record internals: the private selection
helper it imports, `Stream._generate_record_messages` and `Stream._write_record_message`,
which it overrides, and `Stream._tap` (the writer). tests/unit/test_sdk_private_hooks.py pins
them, so an SDK upgrade that changes them fails there.
"""

from __future__ import annotations

import typing as t
from datetime import UTC, datetime

import singer_sdk.singerlib as singer

# Private, no public equivalent: the SDK's selection walk, needed when a property is deselected.
from singer_sdk.helpers._catalog import pop_deselected_record_properties
from singer_sdk.mapper import SameRecordTransform
from singer_sdk.streams import Stream

from tap_heymarket.conformance import Conformer
from tap_heymarket.run_log import StreamTally
from tap_heymarket.settings import Settings
from tap_heymarket.writer import BufferedMsgSpecWriter


class ConformedRecordMessages(Stream):
    """Stream base: RECORD messages through the tap's one conformance path.

    Put it before the SDK's stream class in the bases. The conformer is rebuilt whenever
    the schema changes (a catalog is applied after the stream is built).
    """

    #: column -> the column that holds the API's other shape of it (conformance.py).
    alternate_columns: t.ClassVar[dict[str, str]] = {}
    #: Fields that decode parses strictly (besides the keys): not looked at again.
    checked_fields: t.ClassVar[tuple[str, ...]] = ()
    #: The tap's settings (set by `HeymarketStream`, client.py).
    settings: Settings
    #: What the stream did in the run (set by `HeymarketStream`; run_log.py).
    tally: StreamTally

    def __init__(self, *args: t.Any, **kwargs: t.Any) -> None:
        super().__init__(*args, **kwargs)
        self._conformer: Conformer | None = None
        #: While the records of an answer are emitted: whether it holds no `\\u0000` (set
        #: with the conformer's check, once per answer); None for rows the tap builds.
        self.answer_is_clean: bool | None = None
        #: When the answer whose records are being emitted arrived (set with
        #: `answer_is_clean`): their `time_extracted`. None: the time of each record.
        self.time_extracted: datetime | None = None
        #: (the stream maps, the writer `_write_record_message` writes to directly, if any)
        self._direct: tuple[t.Any, BufferedMsgSpecWriter | None] | None = None

    def conformer(self) -> Conformer:
        """The conformance plan of the current schema (built once per schema)."""
        schema, mask = self.effective_schema, self.mask
        plan = self._conformer
        if plan is None or plan.schema is not schema or plan.mask is not mask:
            trusted = {*self.primary_keys, *self.checked_fields}
            if self.replication_key:
                trusted.add(self.replication_key)
            plan = self._conformer = Conformer(
                stream=self.name,
                schema=schema,
                logger=self.logger,
                trusted=frozenset(trusted),
                alternates=self.alternate_columns,
                replace_nul=self.settings.replace_nul_characters,
            )
            # The selection walk can pop nothing when every breadcrumb is selected.
            plan.mask, plan.all_selected = mask, all(mask.values())
        return plan

    def log_sync_costs(self) -> None:
        """The SDK's end-of-stream hook (once per run): also the `values_not_conformed`
        counters of the run."""
        super().log_sync_costs()
        if self._conformer is not None:
            self._conformer.flush_metrics()

    def conformed(self, record: dict[str, t.Any]) -> dict[str, t.Any]:
        """`record` conformed to the schema, without its deselected properties."""
        # The plan `decoded_page` checked for this answer (or, for rows the tap builds, now).
        conformer = self._conformer if self.answer_is_clean is not None else None
        if conformer is None:
            conformer = self.conformer()
        self.tally.record()
        record = conformer.conform(record, clean=bool(self.answer_is_clean))
        if not conformer.all_selected:
            pop_deselected_record_properties(record, self.schema, self.mask)
        return record

    # Private override: the SDK conforms inside it, and no public hook replaces that.
    def _generate_record_messages(
        self, record: dict[str, t.Any]
    ) -> t.Generator[singer.RecordMessage, None, None]:
        """`Stream._generate_record_messages`, with the tap's conformance."""
        record = self.conformed(record)
        for stream_map in self.stream_maps:
            mapped_record = stream_map.transform(record)
            if mapped_record is not None:
                yield singer.RecordMessage(
                    stream=stream_map.stream_alias,
                    record=mapped_record,
                    # Private attribute: the SDK's table version, which has no public accessor.
                    version=self._stream_version,
                    time_extracted=self.time_extracted or datetime.now(UTC),
                )

    # Private override: the SDK's per-record write builds a message object and passes it
    # through four calls; no public hook writes a record. Same bytes, a third of the cost.
    def _write_record_message(self, record: dict[str, t.Any]) -> None:
        """`Stream._write_record_message`: with no stream map (the usual case), the
        conformed record goes straight to the tap's writer (writer.py); else as the SDK."""
        writer = self._direct_writer()
        if writer is None:
            super()._write_record_message(record)
            return
        writer.write_record(
            self.name, self.conformed(record), self._stream_version, self.time_extracted
        )
        self.state_manager.is_flushed = False

    def _direct_writer(self) -> BufferedMsgSpecWriter | None:
        """The tap's writer, when this stream's only map passes records through unchanged
        under the stream's own name (no alias, no flattening); None otherwise (checked
        once per map list)."""
        maps = self.stream_maps
        cached = self._direct
        if cached is not None and cached[0] is maps:
            return cached[1]
        # Private attribute: the stream's tap, whose writer has no public accessor here.
        writer = self._tap.message_writer
        direct = (
            writer
            if isinstance(writer, BufferedMsgSpecWriter)
            and len(maps) == 1
            and type(maps[0]) is SameRecordTransform
            and maps[0].stream_alias == self.name
            and not maps[0].flattening_enabled
            else None
        )
        self._direct = (maps, direct)
        return direct
