"""The streams of the delete sweep: `SweptStream`, the parent of `contacts`, `tags` and
`templates`, and `delete_sweeps`, the stream of finished sweeps.

With `detect_deletes`, a swept stream's run is a sweep: every record from the top with a
new table version, catch-up rounds until one answer proves the walk complete, then
ACTIVATE_VERSION (docs/deletes.md). What "proven" takes, the versions and the rules for
resuming are in sweep.py, which holds the proof and the sweep's STATE; this module runs it
inside the SDK's sync (the paginator, the records, STATE after every answer).
"""

from __future__ import annotations

import dataclasses
import time
import typing as t
from datetime import datetime

from singer_sdk import StreamSchema
from singer_sdk.pagination import BaseAPIPaginator

from tap_heymarket import sweep as proof
from tap_heymarket.client import SCHEMAS, HeymarketStream
from tap_heymarket.cursor_stream import UpdatedCursorStream
from tap_heymarket.run_log import plural
from tap_heymarket.state_keys import LAST_SWEEP_KEY, SWEEP_KEY
from tap_heymarket.sweep import SweepProgress, SweepRound
from tap_heymarket.walk_state import PageRequest, WalkMemory

if t.TYPE_CHECKING:
    import requests
    from singer_sdk.helpers.types import Context

    from tap_heymarket.pagination import UpdatedCursorPaginator

#: The stream of finished sweeps (its rows are built by the tap, not read from the API).
SWEEPS_STREAM = "delete_sweeps"


class SweepPages(BaseAPIPaginator[PageRequest]):
    """The SDK's paginator for a whole sweep: each round's walker in turn.

    One pagination loop serves every round, so per-run work (contacts' custom-field
    plan) happens once. The walkers keep their own request values; the tokens handed to
    the SDK carry a serial number (`pass_no`, never sent) so that the first request of a
    round is never taken for a repeat of the last one.
    """

    def __init__(self, stream: SweptStream) -> None:
        self._stream = stream
        self._serial = 0
        walker = stream.sweep_walker
        assert walker is not None
        self._serving: SweepRound = walker
        super().__init__(self._token(walker))

    def _token(self, walker: SweepRound) -> PageRequest:
        self._serial += 1
        return dataclasses.replace(walker.current_value, pass_no=self._serial)

    def advance(self, response: requests.Response) -> None:
        """Advance the walker that answered; then serve the current round, or finish."""
        self._page_count += 1
        if not self._serving.finished:
            self._serving.advance(response)
        current = self._stream.sweep_walker
        if current is None or current.finished:
            self._finished = True
            return
        self._serving = current
        self._value = self._token(current)

    def get_next(self, response: requests.Response) -> PageRequest | None:
        """Unused: `advance` asks the rounds."""
        return None

    def continue_if_empty(self, response: requests.Response) -> bool:
        """An answer with nothing to emit never ends a sweep: `advance` decides."""
        return True


class SweptStream(UpdatedCursorStream):
    """A newest-first stream that `detect_deletes` sweeps (see the module docstring)."""

    def __init__(self, *args: t.Any, **kwargs: t.Any) -> None:
        super().__init__(*args, **kwargs)
        #: The sweep of this run (None in a regular run).
        self.sweep: SweepProgress | None = None
        #: The walker of the sweep's current round (None once the sweep's walk is over).
        self.sweep_walker: SweepRound | None = None
        self._prepared_at: datetime | None = None

    @property
    def sweeping(self) -> bool:
        """This run sweeps the stream: `detect_deletes` is on and the stream is selected."""
        return self.settings.detect_deletes and self.selected

    # -- the run -----------------------------------------------------------------

    def get_records(self, context: Context | None) -> t.Iterable[dict[str, t.Any]]:
        """A regular run, or a sweep: every round, then ACTIVATE_VERSION if proven."""
        if not self.sweeping:
            yield from super().get_records(context)
            return
        self.sweep = self._begin_sweep()
        yield from super().get_records(context)
        # Reached only when every record of every round was written: a failure or a
        # kill before this point sends no ACTIVATE_VERSION.
        self._end_sweep(self.sweep)

    def get_new_paginator(self) -> BaseAPIPaginator[PageRequest]:
        """The sweep's rounds, or (in a regular run) the regular walk."""
        sweep = self.sweep
        if sweep is None or not self.sweeping:
            self._drop_unfinished_sweep()
            return super().get_new_paginator()
        self.sweep_walker = self._round_walker(sweep)
        self.walker = self.sweep_walker
        return SweepPages(self)

    def prepare_request_payload(
        self, context: Context | None, next_page_token: PageRequest | None
    ) -> dict | None:
        """Note when each request is prepared: its answer is no older than that."""
        self._prepared_at = proof.now()
        return super().prepare_request_payload(context, next_page_token)

    def parse_response(self, response: requests.Response) -> t.Iterable[dict]:
        """As `UpdatedCursorStream.parse_response`, plus the sweep's bookkeeping."""
        sweep, walker = self.sweep, self.sweep_walker
        if sweep is None or walker is None or not self.sweeping:
            yield from super().parse_response(response)
            return
        page = self.decoded_page(response)
        capacity = walker.memory.capacity
        request = walker.current_value
        records = proof.take_answer(sweep, walker, page, request, capacity, self._prepared_at)
        yield from records
        self._checkpoint(walker)

    def _checkpoint(self, walker: UpdatedCursorPaginator) -> None:
        """Save the sweep's progress (the regular bookmark is left as it is)."""
        sweep = self.sweep
        if sweep is None or not self.sweeping:
            super()._checkpoint(walker)
            return
        assert isinstance(walker, SweepRound)
        if walker.finished_walk:
            self._end_round(sweep, walker)
        else:
            sweep.walk = walker.checkpoint()
        self.get_context_state(None)[SWEEP_KEY] = sweep.to_state()
        self.write_state_now()

    # -- start and end -----------------------------------------------------------

    def _drop_unfinished_sweep(self) -> None:
        """A regular run writes rows without a version: a pending sweep cannot prove
        anything any more."""
        if self.get_context_state(None).pop(SWEEP_KEY, None) is not None:
            self.logger.info(
                "%s: an unfinished delete sweep is dropped: this run writes rows without its "
                "version, so it could no longer tell deleted rows from the others; the next "
                "detect_deletes run starts a new one",
                self.name,
            )

    def _begin_sweep(self) -> SweepProgress:
        state = self.get_context_state(None)
        now = proof.now()
        pending = state.get(SWEEP_KEY)
        progress = SweepProgress.from_state(pending) if pending is not None else None
        if pending is not None:
            why = None
            if progress is None:
                why = "its state entry is malformed"
            elif not state.get("replication_key_value"):
                why = (
                    "this state holds no bookmark of the regular runs, so runs in another "
                    "state may have rewritten its rows"
                )
            elif now < progress.started_at:
                why = "this machine's clock is behind the time it started"
            if why:
                self.logger.info(
                    "%s: starting a new delete sweep rather than continuing the unfinished one: %s",
                    self.name,
                    why,
                )
                progress = None
            else:
                assert progress is not None
                progress.resumed = True
                self.logger.info(
                    "%s: continuing the unfinished delete sweep (table version %d, round %d)",
                    self.name,
                    progress.version,
                    progress.round,
                )
        if progress is None:
            version = proof.new_version(
                int(self.heymarket_tap.initialized_at), pending, state.get(LAST_SWEEP_KEY)
            )
            progress = SweepProgress(version=version, started_at=now)
            self.logger.info(
                "%s: detect_deletes: walking every record from the top with table version %d",
                self.name,
                progress.version,
            )
            if self.settings.start_date:
                self.logger.info(
                    "%s: start_date does not apply to a delete sweep: it reads every record",
                    self.name,
                )
        # Private SDK attribute: the version RECORD messages carry (records.py).
        self._stream_version = progress.version
        state[SWEEP_KEY] = progress.to_state()
        return progress

    def _end_sweep(self, sweep: SweepProgress) -> None:
        state = self.get_context_state(None)
        state.pop(SWEEP_KEY, None)
        self.sweep_walker = None
        reasons = proof.unproven_reasons(sweep)
        completed = proof.now()
        state[LAST_SWEEP_KEY] = {
            "version": sweep.version,
            "started_at": proof.text(sweep.started_at),
            "completed_at": proof.text(completed),
            "activated": not reasons,
        }
        if reasons:
            self.logger.warning(
                "%s: deletes were not detected this run (no ACTIVATE_VERSION: no row is "
                "marked deleted): %s",
                self.name,
                "; ".join(reasons),
            )
            self.metric("delete_sweep_not_activated", 1)
        else:
            # Private SDK method: one ACTIVATE_VERSION per stream map (alias) of the stream.
            self._write_activate_version_message(sweep.version)
            self.logger.info(
                "%s: delete sweep complete: %s in %s, %s; ACTIVATE_VERSION %d sent: the "
                "target marks the rows this sweep did not emit as deleted",
                self.name,
                plural(sweep.records, "record"),
                plural(sweep.requests, "request"),
                plural(sweep.round, "catch-up round"),
                sweep.version,
            )
            sweeps = self.heymarket_tap.streams.get(SWEEPS_STREAM)
            if isinstance(sweeps, DeleteSweepsStream):
                sweeps.announce(
                    {
                        "stream": self.name,
                        "version": sweep.version,
                        "started_at": proof.text(sweep.started_at),
                        "completed_at": proof.text(completed),
                        "records": sweep.records,
                        "requests": sweep.requests,
                    }
                )
        self.write_state_now()

    # -- rounds ------------------------------------------------------------------

    def _round_walker(self, sweep: SweepProgress) -> SweepRound:
        known = sweep.known_at(sweep.floor)
        if sweep.walk is not None:
            walker = SweepRound.resume(
                sweep.walk,
                page_size=self.page_size,
                floor=sweep.floor,
                known_at_floor=known,
                logger=self.logger,
                label=self.name,
            )
            assert isinstance(walker, SweepRound)
            if walker.resumed:
                self.logger.info(
                    "%s: resuming the sweep's round %d below updated=%s",
                    self.name,
                    sweep.round,
                    sweep.walk.get("cursor"),
                )
                return walker
        sweep.walk, sweep.top_read = None, False
        memory = WalkMemory.from_state(sweep.learned)
        memory.emitted, memory.incomplete_groups, memory.unsettled_groups = 0, [], []
        return SweepRound(
            page_size=self.page_size,
            floor=sweep.floor,
            known_at_floor=known,
            memory=memory,
            logger=self.logger,
            label=self.name,
        )

    def _end_round(self, sweep: SweepProgress, walker: SweepRound) -> None:
        if sweep.round == 0:
            self._log_walk_summary(walker)
        if not proof.end_round(sweep, walker.memory):
            self.sweep_walker = None
            return
        wait = (sweep.settle_until - proof.now()).total_seconds() if sweep.settle_until else 0
        if wait > 0:
            self.logger.info(
                "%s: the newest tie group (updated=%s) is larger than an answer and too recent "
                "to be settled; waiting %.0f s before the next catch-up round",
                self.name,
                proof.text(sweep.floor),
                wait,
            )
            time.sleep(wait)
        proof.next_round(sweep)
        self.sweep_walker = self.walker = self._round_walker(sweep)


class DeleteSweepsStream(HeymarketStream):
    """`delete_sweeps`: one row per stream, for the last sweep that activated its version.

    No request: rows are announced by the swept streams when they send ACTIVATE_VERSION.
    Its SCHEMA goes out with its first row, so a run without a sweep leaves no table.
    """

    name = SWEEPS_STREAM
    primary_keys = ("stream",)
    replication_key = None
    schema = StreamSchema(SCHEMAS)

    def __init__(self, *args: t.Any, **kwargs: t.Any) -> None:
        super().__init__(*args, **kwargs)
        self._schema_sent = False

    def get_records(self, context: Context | None) -> t.Iterable[dict[str, t.Any]]:
        """Nothing of its own (rows come from `announce`)."""
        return iter(())

    def get_new_paginator(self) -> BaseAPIPaginator:
        """Never used: the stream makes no request."""
        raise NotImplementedError

    # Private override: the SDK writes SCHEMA when the stream's sync starts; this one
    # writes it with its first row (see `announce`).
    def _write_schema_message(self) -> None:
        """Deferred to the first row."""

    def announce(self, row: dict[str, t.Any]) -> None:
        """Write one row (and, the first time, the SCHEMA), when the stream is selected."""
        if not self.selected:
            return
        if not self._schema_sent:
            super()._write_schema_message()
            self._schema_sent = True
        # Private SDK method: selection, conformance and stream maps, as for any record.
        self._write_record_message(row)
