"""Deletes reach the warehouse: the `detect_deletes` sweep (README, "Deletes").

Heymarket's deletes are hard and no endpoint lists them, so no incremental walk can see
one. A full walk can: a record it does not meet no longer exists. With `detect_deletes`,
the streams that mix in `DeleteSweep` (`contacts`, `tags`, `templates`) are walked from
the top instead of from their bookmark, every record is emitted with a new table version
`V` in its RECORD message, and once the tap has *proven* that every record that exists was
emitted with `V`, it sends `ACTIVATE_VERSION V` at the end of the stream. A target that
supports it marks every row of an older version (or of none) as deleted: target-postgres
sets `_sdc_deleted_at` and keeps the row's data, or deletes the row with `hard_delete`.

What "proven" takes:

* The walk completed. ACTIVATE_VERSION comes after the stream's last record, never at its
  start (the SDK's own, at the start of a full-table stream, is off for every stream of the
  tap: `HeymarketStream.emit_activate_version_messages`). A run that fails or is killed
  before the end sends none, so it marks nothing.
* Records changed meanwhile. A record updated while the walk runs moves above the point
  where the walk started and may be missed. Catch-up rounds follow: round k walks from the
  top down to F_k, the newest `updated` in the first answer of round k-1 (the top when that
  answer was read), and emits what is new. The sweep ends at the first answer of a round
  that shows, at one instant, that every record at or above F_k was already emitted at its
  current `rev`: the answer reaches below F_k, or holds the whole list, or the group at F_k
  is older than SETTLE (no write can still get that `updated`). Every record existing at
  that instant was then emitted by this sweep: those at or above F_k by the answer's
  evidence; one below F_k was last written before round k-1 began, so it stood still
  through the main walk or through a round whose floor it is at or above, and the walker
  meets every record that stands still (records at a floor are recognised by `rev`). This
  assumes what the incremental walk assumes: a write never gets an `updated` earlier than
  one already served (an equal one has a new `rev`).
* Every tie group was read. A group the API would not page through (`incomplete_groups`,
  the walker's one lossy case) or one whose members kept changing over every verification
  pass (`unsettled_groups`) proves nothing about the members not read: no activation, and a
  WARNING says why. Likewise a sweep that does not settle in MAX_CATCH_UPS rounds, and one
  that read no record at all (an empty answer must not mark every row deleted).

Versions. Records of a regular run carry no version, as before; a sweep's carry `V`, the
run's start in milliseconds, above every version the stream used before. target-postgres
only stores a record's version (`_sdc_table_version`): rows are marked by an
ACTIVATE_VERSION alone, and then only those below `V` (or without one), i.e. those the
sweep did not rewrite.

Resuming. A sweep writes its progress to STATE after every answer (`sweep`, in the
stream's bookmark). A killed sweep may continue with the same `V`: the rows it emitted
before the kill are in the target with `V` (a target emits a STATE only once the records
before it are stored), and activating needs them still there with `V`. Any other writer of
those rows breaks that, so:

* a regular run of the stream drops an unfinished sweep (its rows carry no version);
* a sweep continues only in a state that regular runs share (it holds their bookmark): the
  same Meltano state id, whose runs Meltano never lets overlap. A sweep kept in a state of
  its own (another state id) starts over, with a new version.

`delete_sweeps` (`DeleteSweepsStream`) gets one row per stream and activated sweep, for
targets that ignore ACTIVATE_VERSION (target-duckdb): a row whose `_sdc_extracted_at` is
before its stream's last `started_at` was not met by that sweep, so it was deleted in
Heymarket (docs/warehouses.md has the query).

During a sweep the streams fed from contacts (`contact_field_values`, `contact_status`) are
not fed: they follow the regular runs, whose bookmark a sweep leaves as it is.
"""

from __future__ import annotations

import dataclasses
import time
import typing as t
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from singer_sdk import SchemaDirectory, StreamSchema
from singer_sdk.pagination import BaseAPIPaginator

from tap_heymarket import schemas, timestamps
from tap_heymarket.client import HeymarketStream
from tap_heymarket.pagination import UpdatedCursorPaginator
from tap_heymarket.walk_state import MAX_REVS, TOP, Page, PageRequest, WalkMemory, record_rev

if t.TYPE_CHECKING:
    import requests
    from singer_sdk.helpers.types import Context

    from tap_heymarket.streams import UpdatedCursorStream

    _SweepBase = UpdatedCursorStream
else:
    _SweepBase = object

#: Key, in a stream's state, of an unfinished sweep.
SWEEP_KEY = "sweep"
#: Key, in a stream's state, of the last finished sweep (its version, times, outcome).
LAST_SWEEP_KEY = "last_sweep"
#: Catch-up rounds after the main walk before a sweep gives up settling (no activation).
MAX_CATCH_UPS = 10
#: A tie group whose `updated` is this much older than the request that read it can gain
#: no member any more (covers the server's clock running behind the tap's, and timestamps
#: in whole seconds).
SETTLE = timedelta(seconds=60)
#: The `delete_sweeps` stream.
SWEEPS_STREAM = "delete_sweeps"

SCHEMAS = SchemaDirectory(schemas)


def _now() -> datetime:
    return datetime.now(UTC)


def _time(value: t.Any) -> datetime | None:
    """A timestamp kept in STATE (None for null); ValueError when it is not one."""
    if value is None:
        return None
    return timestamps.parse(value)


def _text(value: datetime | None) -> str | None:
    return timestamps.normalize(value) if value is not None else None


@dataclass
class SweepProgress:
    """One stream's sweep, as STATE keeps it between answers (and across a kill)."""

    #: The table version of every record the sweep emits, and of its ACTIVATE_VERSION.
    version: int
    #: When the sweep started, on the tap's clock (before its first request).
    started_at: datetime
    #: 0: the main walk (no floor); k >= 1: catch-up round k.
    round: int = 0
    #: F_k: the round walks down to it (None in the main walk).
    floor: datetime | None = None
    #: When the request whose answer gave `floor` was prepared (tap's clock).
    floor_read_at: datetime | None = None
    #: Whether this round's first answer (from the top) was read.
    top_read: bool = False
    #: The newest `updated` of this round's first answer: the next round's floor.
    next_floor: datetime | None = None
    next_floor_read_at: datetime | None = None
    #: The walker's checkpoint within this round (None: the round starts from the top).
    walk: dict[str, t.Any] | None = None
    #: What the walker learned about the server (WalkMemory), carried from round to round.
    learned: dict[str, t.Any] | None = None
    #: id -> (rev, updated) of the records this sweep emitted at or above `threshold`.
    seen: dict[int, tuple[int, datetime]] = field(default_factory=dict)
    #: F_1, the top when the main walk started: the main walk notes records from it up.
    threshold: datetime | None = None
    #: Why this sweep cannot activate (empty: nothing against it so far).
    unproven: list[str] = field(default_factory=list)
    records: int = 0
    requests: int = 0
    #: A round's first answer proved every existing record emitted.
    converged: bool = False
    #: The newest tie group was too recent to be settled: wait until then (tap's clock)
    #: before the next round, so that its first answer can prove it complete.
    settle_until: datetime | None = None
    #: Continued from a saved state (not saved itself).
    resumed: bool = False

    def known_at(self, at: datetime | None) -> dict[int, int]:
        """id -> rev of the records this sweep emitted at exactly `at`."""
        if at is None:
            return {}
        return {i: rev for i, (rev, updated) in self.seen.items() if updated == at}

    def to_state(self) -> dict[str, t.Any]:
        # The newest first: a resumed sweep needs those at its floors. Beyond MAX_REVS,
        # records come again once (as duplicates) after a resume.
        newest = sorted(self.seen.items(), key=lambda kv: (kv[1][1], kv[0]), reverse=True)
        return {
            "version": self.version,
            "started_at": _text(self.started_at),
            "round": self.round,
            "floor": _text(self.floor),
            "floor_read_at": _text(self.floor_read_at),
            "top_read": self.top_read,
            "next_floor": _text(self.next_floor),
            "next_floor_read_at": _text(self.next_floor_read_at),
            "walk": self.walk,
            "learned": self.learned,
            "seen": [[i, rev, _text(u)] for i, (rev, u) in newest[:MAX_REVS]],
            "threshold": _text(self.threshold),
            "unproven": list(self.unproven),
            "records": self.records,
            "requests": self.requests,
        }

    @classmethod
    def from_state(cls, data: t.Any) -> SweepProgress | None:
        """The sweep a STATE holds, or None when the entry is not one this tap wrote."""
        if not isinstance(data, dict):
            return None
        try:
            version, started = data["version"], _time(data["started_at"])
            if not _is_int(version) or started is None:
                return None
            seen: dict[int, tuple[int, datetime]] = {}
            for entry in data.get("seen") or []:
                record_id, rev, updated = entry
                when = _time(updated)
                if not (_is_int(record_id) and _is_int(rev)) or when is None:
                    return None
                seen[record_id] = (rev, when)
            walk, learned = data.get("walk"), data.get("learned")
            unproven = data.get("unproven") or []
            if not isinstance(walk, dict | None) or not isinstance(learned, dict | None):
                return None
            if walk is not None:
                for key in ("floor", "top", "cursor"):
                    _time(walk.get(key))
                if walk.get("kind") not in (None, "le", "lt"):
                    return None
            if not isinstance(unproven, list):
                return None
            return cls(
                version=version,
                started_at=started,
                round=_int(data.get("round")),
                floor=_time(data.get("floor")),
                floor_read_at=_time(data.get("floor_read_at")),
                top_read=data.get("top_read") is True,
                next_floor=_time(data.get("next_floor")),
                next_floor_read_at=_time(data.get("next_floor_read_at")),
                walk=walk,
                learned=learned,
                seen=seen,
                threshold=_time(data.get("threshold")),
                unproven=[str(u) for u in unproven],
                records=_int(data.get("records")),
                requests=_int(data.get("requests")),
            )
        except (KeyError, TypeError, ValueError):
            return None


def _is_int(value: t.Any) -> t.TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def _int(value: t.Any) -> int:
    if value is None:
        return 0
    if not _is_int(value) or value < 0:
        raise ValueError(value)
    return value


class SweepRound(UpdatedCursorPaginator):
    """One round of a sweep: the walker, plus a way to end it at a settled answer."""

    def stop(self) -> None:
        """End the walk now (the sweep proved what it needed)."""
        self._finish()


class SweepPages(BaseAPIPaginator[PageRequest]):
    """The SDK's paginator for a whole sweep: each round's walker in turn.

    One pagination loop serves every round, so per-run work (contacts' custom-field
    plan) happens once. The walkers keep their own request values; the tokens handed to
    the SDK carry a serial number (`pass_no`, never sent) so that the first request of a
    round is never taken for a repeat of the last one.
    """

    def __init__(self, stream: DeleteSweep) -> None:
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


class DeleteSweep(_SweepBase):
    """Mixed into a newest-first stream (before `UpdatedCursorStream` in the bases): with
    `detect_deletes`, the stream's run is a sweep (see the module docstring)."""

    def __init__(self, tap: t.Any, *args: t.Any, **kwargs: t.Any) -> None:
        super().__init__(tap, *args, **kwargs)
        self._sweep_tap = tap
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
        # The streams fed from contacts follow the regular runs, not a sweep (ContactFeed
        # fills `_fed` just before it calls this method).
        if "_fed" in vars(self):
            vars(self)["_fed"] = []
        self.sweep_walker = self._round_walker(sweep)
        self._walker = self.sweep_walker
        return SweepPages(self)

    def prepare_request_payload(
        self, context: Context | None, next_page_token: PageRequest | None
    ) -> dict | None:
        """Note when each request is prepared: its answer is no older than that."""
        self._prepared_at = _now()
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
        records = self._sweep_answer(sweep, walker, page, request, capacity)
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
        now = _now()
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
            previous = [int(self._sweep_tap.initialized_at)]
            for entry in (pending, state.get(LAST_SWEEP_KEY)):
                if isinstance(entry, dict) and _is_int(entry.get("version")):
                    previous.append(entry["version"] + 1)
            progress = SweepProgress(version=max(previous), started_at=now)
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
        reasons = list(dict.fromkeys(sweep.unproven))
        if not sweep.converged and not reasons:
            reasons.append("the walk did not settle")
        if sweep.records == 0 and not reasons:
            reasons.append(
                "the sweep read no record at all, and an empty answer must not mark every "
                "row deleted"
            )
        completed = _now()
        state[LAST_SWEEP_KEY] = {
            "version": sweep.version,
            "started_at": _text(sweep.started_at),
            "completed_at": _text(completed),
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
                "%s: delete sweep complete: %d records in %d requests, %d catch-up "
                "round(s); ACTIVATE_VERSION %d sent: the target marks the rows this sweep "
                "did not emit as deleted",
                self.name,
                sweep.records,
                sweep.requests,
                sweep.round,
                sweep.version,
            )
            sweeps = self._sweep_tap.streams.get(SWEEPS_STREAM)
            if isinstance(sweeps, DeleteSweepsStream):
                sweeps.announce(
                    {
                        "stream": self.name,
                        "version": sweep.version,
                        "started_at": _text(sweep.started_at),
                        "completed_at": _text(completed),
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

    def _sweep_answer(
        self,
        sweep: SweepProgress,
        walker: SweepRound,
        page: Page,
        request: PageRequest,
        capacity: int,
    ) -> list[dict[str, t.Any]]:
        """Take one answer: the walker's records to emit, noted; a round's first answer
        may prove the sweep complete (then nothing more is emitted or asked)."""
        sweep.requests += 1
        records = walker.consume(page)
        if not sweep.top_read and request.kind == TOP:
            sweep.top_read = True
            sweep.next_floor = max(page.updated, default=None)
            sweep.next_floor_read_at = self._prepared_at
            if sweep.round == 0:
                sweep.threshold = sweep.next_floor
            else:
                proven, fresh = self._proves_complete(sweep, page, request, capacity)
                if proven:
                    sweep.converged = True
                    walker.stop()
                    return []
                if fresh and sweep.floor is not None:
                    sweep.settle_until = sweep.floor + SETTLE
        updated = {r["id"]: u for r, u in zip(page.records, page.updated, strict=True)}
        threshold = sweep.threshold
        for record in records:
            pair, at = record_rev(record), updated.get(record["id"])
            if pair is None or at is None:
                continue
            if sweep.round > 0 or (threshold is not None and at >= threshold):
                sweep.seen[pair[0]] = (pair[1], at)
        sweep.records += len(records)
        return records

    def _proves_complete(
        self, sweep: SweepProgress, page: Page, request: PageRequest, capacity: int
    ) -> tuple[bool, bool]:
        """(proven, fresh): whether this answer (from the top) shows that every record at
        or above the round's floor was emitted by this sweep at its current rev; and, if
        not, whether only the recency of the group at the floor stood in the way."""
        floor = sweep.floor
        at_floor = False
        for record, updated in zip(page.records, page.updated, strict=True):
            if floor is not None and updated < floor:
                # Newest first: the answer held everything at or above the floor.
                return True, False
            if updated == floor:
                at_floor = True
            pair = record_rev(record)
            if pair is None or sweep.seen.get(pair[0], (None,))[0] != pair[1]:
                return False, False
        answered = len(page.records)
        if answered == 0 or (answered < request.limit and answered < capacity):
            # The server once answered more: this is the whole list.
            return True, False
        if not at_floor or floor is None:
            return False, False
        # The answer reached the floor's group, known so far, but not below it (the group
        # is larger than an answer): the rest cannot have changed if no write could still
        # get that `updated` when the floor was read.
        read_at = sweep.floor_read_at
        if read_at is not None and floor + SETTLE < read_at:
            return True, False
        return False, True

    def _end_round(self, sweep: SweepProgress, walker: SweepRound) -> None:
        memory = walker.memory
        for at, read in memory.incomplete_groups:
            sweep.unproven.append(
                f"the tie group at updated={at} could not be read beyond its first {read} "
                "(the API clamps `limit` and ignores `page`)"
            )
        for at in memory.unsettled_groups:
            sweep.unproven.append(f"the tie group at updated={at} kept changing while read")
        if sweep.round == 0:
            self._log_walk_summary(walker)
        sweep.learned, sweep.walk = memory.to_state(), None
        if sweep.converged or sweep.unproven:
            self.sweep_walker = None
            return
        if sweep.round >= MAX_CATCH_UPS:
            sweep.unproven.append(
                f"records kept changing: {MAX_CATCH_UPS} catch-up rounds did not settle"
            )
            self.sweep_walker = None
            return
        wait = (sweep.settle_until - _now()).total_seconds() if sweep.settle_until else 0
        if wait > 0:
            self.logger.info(
                "%s: the newest tie group (updated=%s) is larger than an answer and too recent "
                "to be settled; waiting %.0f s before the next catch-up round",
                self.name,
                _text(sweep.floor),
                wait,
            )
            time.sleep(wait)
        sweep.settle_until = None
        sweep.round += 1
        sweep.floor, sweep.floor_read_at = sweep.next_floor, sweep.next_floor_read_at
        sweep.top_read, sweep.next_floor, sweep.next_floor_read_at = False, None, None
        self.sweep_walker = self._walker = self._round_walker(sweep)


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
