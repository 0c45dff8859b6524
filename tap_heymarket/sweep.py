"""Deletes reach the warehouse: the `detect_deletes` sweep (docs/deletes.md).

Heymarket's deletes are hard and no endpoint lists them, so no incremental walk can see
one. A full walk can: a record it does not meet no longer exists. With `detect_deletes`,
the streams built on `SweptStream` (swept_stream.py: `contacts`, `tags`, `templates`) are
walked from the top instead of from their bookmark, every record is emitted with a new
table version `V` in its RECORD message, and once the tap has *proven* that every record
that exists was emitted with `V`, it sends `ACTIVATE_VERSION V` at the end of the stream.
A target that supports it marks every row of an older version (or of none) as deleted:
target-postgres sets `_sdc_deleted_at` and keeps the row's data, or deletes the row with
`hard_delete`.

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

This module holds the proof and the sweep's STATE, with no SDK stream in it: the progress
a sweep keeps between answers (`SweepProgress`), what one answer adds to it
(`take_answer`), whether a round's first answer proves the sweep complete
(`proves_complete`), what a finished round leaves unproven (`end_round`) and why a sweep
may not activate (`unproven_reasons`). swept_stream.py runs it inside the SDK's sync.
"""

from __future__ import annotations

import typing as t
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from tap_heymarket import timestamps
from tap_heymarket.pagination import UpdatedCursorPaginator
from tap_heymarket.walk_state import (
    MAX_REVS,
    TOP,
    Page,
    PageRequest,
    WalkMemory,
    is_int,
    record_rev,
)

#: Catch-up rounds after the main walk before a sweep gives up settling (no activation).
MAX_CATCH_UPS = 10
#: A tie group whose `updated` is this much older than the request that read it can gain
#: no member any more (covers the server's clock running behind the tap's, and timestamps
#: in whole seconds).
SETTLE = timedelta(seconds=60)


def now() -> datetime:
    """The tap's clock (UTC)."""
    return datetime.now(UTC)


def text(value: datetime | None) -> str | None:
    """A timestamp as STATE keeps it (None for null)."""
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
            "started_at": text(self.started_at),
            "round": self.round,
            "floor": text(self.floor),
            "floor_read_at": text(self.floor_read_at),
            "top_read": self.top_read,
            "next_floor": text(self.next_floor),
            "next_floor_read_at": text(self.next_floor_read_at),
            "walk": self.walk,
            "learned": self.learned,
            "seen": [[i, rev, text(u)] for i, (rev, u) in newest[:MAX_REVS]],
            "threshold": text(self.threshold),
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
            version, started = data["version"], timestamps.parse_optional(data["started_at"])
            if not is_int(version) or started is None:
                return None
            seen: dict[int, tuple[int, datetime]] = {}
            for entry in data.get("seen") or []:
                record_id, rev, updated = entry
                when = timestamps.parse_optional(updated)
                if not (is_int(record_id) and is_int(rev)) or when is None:
                    return None
                seen[record_id] = (rev, when)
            walk, learned = data.get("walk"), data.get("learned")
            unproven = data.get("unproven") or []
            if not isinstance(walk, dict | None) or not isinstance(learned, dict | None):
                return None
            if walk is not None:
                for key in ("floor", "top", "cursor"):
                    timestamps.parse_optional(walk.get(key))
                if walk.get("kind") not in (None, "le", "lt"):
                    return None
            if not isinstance(unproven, list):
                return None
            return cls(
                version=version,
                started_at=started,
                round=_int(data.get("round")),
                floor=timestamps.parse_optional(data.get("floor")),
                floor_read_at=timestamps.parse_optional(data.get("floor_read_at")),
                top_read=data.get("top_read") is True,
                next_floor=timestamps.parse_optional(data.get("next_floor")),
                next_floor_read_at=timestamps.parse_optional(data.get("next_floor_read_at")),
                walk=walk,
                learned=learned,
                seen=seen,
                threshold=timestamps.parse_optional(data.get("threshold")),
                unproven=[str(u) for u in unproven],
                records=_int(data.get("records")),
                requests=_int(data.get("requests")),
            )
        except (KeyError, TypeError, ValueError):
            return None


def _int(value: t.Any) -> int:
    if value is None:
        return 0
    if not is_int(value) or value < 0:
        raise ValueError(value)
    return value


class SweepRound(UpdatedCursorPaginator):
    """One round of a sweep: the walker, plus a way to end it at a settled answer."""

    def stop(self) -> None:
        """End the walk now (the sweep proved what it needed)."""
        self.finish()


def take_answer(
    sweep: SweepProgress,
    walker: SweepRound,
    page: Page,
    request: PageRequest,
    capacity: int,
    prepared_at: datetime | None,
) -> list[dict[str, t.Any]]:
    """Take one answer: the walker's records to emit, noted; a round's first answer
    may prove the sweep complete (then nothing more is emitted or asked). `prepared_at`
    is when the request was prepared: the answer is no older than that."""
    sweep.requests += 1
    records = walker.consume(page)
    if not sweep.top_read and request.kind == TOP:
        sweep.top_read = True
        sweep.next_floor = max(page.updated, default=None)
        sweep.next_floor_read_at = prepared_at
        if sweep.round == 0:
            sweep.threshold = sweep.next_floor
        else:
            proven, fresh = proves_complete(sweep, page, request, capacity)
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


def proves_complete(
    sweep: SweepProgress, page: Page, request: PageRequest, capacity: int
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


def end_round(sweep: SweepProgress, memory: WalkMemory) -> bool:
    """Note what the round's walk could not prove; True when another round must follow."""
    for at, read in memory.incomplete_groups:
        sweep.unproven.append(
            f"the tie group at updated={at} could not be read beyond its first {read} "
            "(the API clamps `limit` and ignores `page`)"
        )
    for at in memory.unsettled_groups:
        sweep.unproven.append(f"the tie group at updated={at} kept changing while read")
    sweep.learned, sweep.walk = memory.to_state(), None
    if sweep.converged or sweep.unproven:
        return False
    if sweep.round >= MAX_CATCH_UPS:
        sweep.unproven.append(
            f"records kept changing: {MAX_CATCH_UPS} catch-up rounds did not settle"
        )
        return False
    return True


def next_round(sweep: SweepProgress) -> None:
    """Move on to the next catch-up round: its floor is the last round's first answer."""
    sweep.settle_until = None
    sweep.round += 1
    sweep.floor, sweep.floor_read_at = sweep.next_floor, sweep.next_floor_read_at
    sweep.top_read, sweep.next_floor, sweep.next_floor_read_at = False, None, None


def unproven_reasons(sweep: SweepProgress) -> list[str]:
    """Why a finished sweep may not activate (empty: it is proven)."""
    reasons = list(dict.fromkeys(sweep.unproven))
    if not sweep.converged and not reasons:
        reasons.append("the walk did not settle")
    if sweep.records == 0 and not reasons:
        reasons.append(
            "the sweep read no record at all, and an empty answer must not mark every row deleted"
        )
    return reasons


def new_version(started_ms: int, *entries: t.Any) -> int:
    """A new sweep's table version: the run's start in milliseconds, above the version
    of every sweep entry given (the pending one, the last finished one)."""
    previous = [started_ms]
    for entry in entries:
        if isinstance(entry, dict) and is_int(entry.get("version")):
            previous.append(entry["version"] + 1)
    return max(previous)
