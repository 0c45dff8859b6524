"""Property tests of the walker (`UpdatedCursorPaginator`) against an in-process model server.

No HTTP and no sandbox: `ModelServer` answers a `{date, limit, page}` body the way the real
API might under each reading the docs leave open (`<` or `<=`; `date` read exactly or
truncated to milliseconds or seconds; `limit` honoured or clamped; `page` ignored, 0-based
or 1-based), over records whose `updated` has second, millisecond or microsecond precision
and that come in tie groups of any size, some larger than any page. Hypothesis generates
thousands of such servers and data sets. The walker is driven the way the SDK drives it
(`consume`, then `continue_if_empty`/`advance`), and resumed and rerun from what the
stream keeps in STATE (`checkpoint()`, `revs_at_newest()`, through JSON).

Examples are derandomized, so CI sees the same ones every run. To search harder locally:
`WALKER_EXAMPLES=5000 WALKER_RANDOM=1 pytest tests/unit/test_walker_properties.py`.
"""

from __future__ import annotations

import json
import logging
import os
import typing as t
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tap_heymarket import timestamps
from tap_heymarket.bookmark import (
    record_page,
    resume_walker,
    walk_floor,
)
from tap_heymarket.pagination import UpdatedCursorPaginator
from tap_heymarket.state import state_errors
from tap_heymarket.state_keys import BOOKMARK_KEY, REVS_KEY, WALK_KEY
from tap_heymarket.walk_state import MAX_REVS, Page
from tests.support.list_model import ListSemantics

US, MS, SECOND = 1, 1000, 1_000_000
EPOCH = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)
EXAMPLES = int(os.environ.get("WALKER_EXAMPLES", "250"))

LOG = logging.getLogger("tests.walker_properties")

PROPERTY = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=not os.environ.get("WALKER_RANDOM"),
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def at(us: int) -> datetime:
    return EPOCH + timedelta(microseconds=us)


def to_us(value: datetime) -> int:
    return (value - EPOCH) // timedelta(microseconds=1)


@dataclass
class ModelServer:
    """A newest-first list with an `updated`-before cursor, like `POST /v1/contacts`,
    answering through the shared list model (tests/support/list_model.py)."""

    #: id -> [updated (µs after EPOCH), rev]
    rows: dict[int, list[int]]
    unit: int
    inclusive: bool
    #: `date` is truncated to this many µs before comparing (1: read exactly).
    date_unit: int
    max_limit: int | None
    page_mode: t.Literal["ignore", "zero", "one"]
    #: Order inside a tie group: a fixed, arbitrary permutation of the ids.
    salt: int = 0
    now: int = 0
    #: False: records carry no `rev`.
    revs: bool = True
    #: Ids written since `changed` was last cleared.
    changed: set[int] = field(default_factory=set)

    def __post_init__(self) -> None:
        self.now = max((u for u, _ in self.rows.values()), default=0)

    def answer(self, body: dict[str, t.Any]) -> Page:
        semantics = ListSemantics(
            inclusive=self.inclusive,
            date_unit=self.date_unit,
            max_limit=self.max_limit,
            page_mode=self.page_mode,
            salt=self.salt,
        )
        cut = to_us(timestamps.parse(body["date"])) if "date" in body else None
        ids = semantics.answer(
            ((i, u, u) for i, (u, _) in self.rows.items()),
            cut=cut,
            limit=body["limit"],
            page=body.get("page"),
        )
        chosen = [(i, self.rows[i]) for i in ids]
        return Page(
            records=[{"id": i, "rev": rev} if self.revs else {"id": i} for i, (_, rev) in chosen],
            updated=[at(u) for _, (u, _) in chosen],
        )

    def newest(self) -> int | None:
        return max((u for u, _ in self.rows.values()), default=None)

    def touch(self, record_id: int) -> None:
        """The record is written now: newer than everything, next rev."""
        self.now += self.unit
        self.rows[record_id] = [self.now, self.rows[record_id][1] + 1]
        self.changed.add(record_id)

    def create(self, updated: int | None = None) -> int:
        """A new record, written now (or at `updated`)."""
        if updated is None:
            self.now += self.unit
        new_id = max(self.rows, default=0) + 1
        self.rows[new_id] = [self.now if updated is None else updated, 1]
        self.changed.add(new_id)
        return new_id

    def bump(self, record_id: int) -> None:
        """Written within the same tick as its `updated`: new rev, same `updated`."""
        self.rows[record_id][1] += 1
        self.changed.add(record_id)

    def group_of(self, record_id: int) -> str:
        return timestamps.normalize(at(self.rows[record_id][0]))


class _Response:
    """Stands in for `requests.Response`: the walker plans from `consume`, never from it."""


RESPONSE: t.Any = _Response()


@dataclass
class Walk:
    walker: UpdatedCursorPaginator
    emitted: list[dict[str, t.Any]]
    pages: int

    @property
    def ids(self) -> list[int]:
        return [r["id"] for r in self.emitted]


def drive(
    server: ModelServer,
    walker: UpdatedCursorPaginator,
    *,
    stored: Stored | None = None,
    stop_after: int | None = None,
    between_pages: t.Callable[[int], None] | None = None,
) -> Walk:
    """Run the walker the way `RESTStream.request_records` does, with a bounded budget;
    after every page, like the stream, write its progress into `stored`."""
    budget = 8 * len(server.rows) + 20
    walk = Walk(walker, [], 0)
    while not walker.finished:
        if stop_after is not None and walk.pages >= stop_after:
            break
        assert walk.pages < budget, f"no end after {walk.pages} requests"
        out = walker.consume(server.answer(walker.current_value.body()))
        walk.pages += 1
        walk.emitted.extend(out)
        if stored is not None:
            stored.write(walker)
        if between_pages is not None:
            between_pages(walk.pages)
        if not out and not walker.continue_if_empty(RESPONSE):
            break
        walker.advance(RESPONSE)
    return walk


@dataclass
class Stored:
    """The stream's state entry, kept by the stream's own rules (`tap_heymarket/bookmark.py`:
    `record_page` after each page, `walk_floor` and `resume_walker` at the start of a run),
    and read back through JSON, as from a STATE message."""

    entry: dict[str, t.Any] = field(default_factory=dict)
    start_date: str | None = None

    @property
    def bookmark(self) -> datetime | None:
        value = self.entry.get(BOOKMARK_KEY)
        return timestamps.parse(value) if value else None

    @property
    def revs(self) -> list[list[int]]:
        return t.cast("list[list[int]]", self.entry.get(REVS_KEY, []))

    def write(self, walker: UpdatedCursorPaginator) -> None:
        # The stream logs the walk's summary and names its bookmark key on this answer.
        assert record_page(self.entry, walker) == walker.finished_walk
        self.entry = json.loads(json.dumps(self.entry))
        # A `--state` file holding what the tap wrote passes the tap's checks.
        assert state_errors({"bookmarks": {"contacts": self.entry}}, ["contacts"]) == []

    def walker(self, page_size: int) -> UpdatedCursorPaginator:
        return resume_walker(
            self.entry,
            floor=walk_floor(self.entry, self.start_date),
            page_size=page_size,
            logger=LOG,
            label="model",
        )

    def run(self, server: ModelServer, page_size: int, **kwargs: t.Any) -> Walk:
        """One run of the stream: from this entry, writing into it."""
        return drive(server, self.walker(page_size), stored=self, **kwargs)


# -- strategies -----------------------------------------------------------------------


@st.composite
def servers(draw: st.DrawFn, *, max_records: int = 80) -> ModelServer:
    unit = draw(st.sampled_from([SECOND, MS, US]))
    # A server reads `date` no coarser than the timestamps it sends: one that truncated
    # it further would lose records under the documented "pass the last `updated`".
    date_unit = draw(st.sampled_from([u for u in (US, MS, SECOND) if u <= unit]))
    sizes = draw(st.lists(st.one_of(st.integers(1, 3), st.integers(4, 40)), max_size=30))
    rows: dict[int, list[int]] = {}
    now = 10 * SECOND
    next_id = 1
    for size in sizes:
        if len(rows) + size > max_records:
            break
        # Gaps of one unit put neighbouring groups exactly one step apart.
        now += unit * draw(st.sampled_from([1, 1, 2, 7, 1000]))
        for _ in range(size):
            rows[next_id] = [now, draw(st.integers(1, 3))]
            next_id += draw(st.integers(1, 3))
    return ModelServer(
        rows=rows,
        unit=unit,
        inclusive=draw(st.booleans()),
        date_unit=date_unit,
        max_limit=draw(st.one_of(st.none(), st.integers(1, 12))),
        page_mode=draw(st.sampled_from(["ignore", "zero", "one"])),
        salt=draw(st.integers(0, 1000)),
    )


page_sizes = st.integers(1, 15)


def lossy(server: ModelServer) -> bool:
    """The one documented lossy case: `page` ignored and `limit` clamped (below a group)."""
    return server.page_mode == "ignore" and server.max_limit is not None


def assert_none_missing(
    server: ModelServer,
    walks: t.Iterable[Walk],
    expected: t.Iterable[int],
    got: t.Iterable[int],
) -> None:
    """Every expected record was emitted; in the lossy case, the rest is reported."""
    missing = set(expected) - set(got)
    if not missing:
        return
    assert lossy(server), f"missing {sorted(missing)} from a server that allows paging"
    reported = {g for w in walks for g, _ in w.walker.memory.incomplete_groups}
    silent = {i for i in missing if server.group_of(i) not in reported}
    assert not silent, f"missing {sorted(silent)} silently (reported: {sorted(reported)})"


def assert_groups_reported_as_read(server: ModelServer, walk: Walk) -> None:
    """Each unreadable group is reported once, with the number of its records emitted.

    The end-of-walk warning tells the user how many records of the group were read; on a
    server that does not change, that is exactly how many of the group the walk emitted.
    """
    reported = walk.walker.memory.incomplete_groups
    groups = [g for g, _ in reported]
    assert len(groups) == len(set(groups)), f"a group reported twice: {reported}"
    for group, read in reported:
        emitted = sum(1 for i in set(walk.ids) if server.group_of(i) == group)
        assert read == emitted, f"group {group} reported as read {read}, emitted {emitted}"


def assert_newest(walker: UpdatedCursorPaginator, server: ModelServer, ids: list[int]) -> None:
    """The next bookmark is the newest `updated` emitted: never later than data read."""
    newest = max((server.rows[i][0] for i in ids), default=None)
    assert walker.newest == (at(newest) if newest is not None else None)


# -- properties -----------------------------------------------------------------------


@PROPERTY
@given(server=servers(), page_size=page_sizes)
def test_a_full_walk_emits_every_record_once(server: ModelServer, page_size: int) -> None:
    walk = drive(server, UpdatedCursorPaginator(page_size=page_size))
    assert len(walk.ids) == len(set(walk.ids)), "a record was emitted twice"
    assert_none_missing(server, [walk], server.rows, walk.ids)
    assert_newest(walk.walker, server, walk.ids)
    if server.page_mode != "ignore":
        # Only a server that ignores `page` can leave a group unreadable.
        assert walk.walker.memory.incomplete_groups == []
    assert_groups_reported_as_read(server, walk)


@PROPERTY
@given(server=servers(), page_size=page_sizes, data=st.data())
def test_a_walk_down_to_a_floor_emits_exactly_what_is_at_or_after_it(
    server: ModelServer, page_size: int, data: st.DataObject
) -> None:
    stamps = sorted({u for u, _ in server.rows.values()}) or [0]
    floor_us = data.draw(
        st.one_of(st.sampled_from(stamps), st.integers(stamps[0] - 5, stamps[-1] + 5))
    )
    walk = drive(server, UpdatedCursorPaginator(page_size=page_size, floor=at(floor_us)))
    assert len(walk.ids) == len(set(walk.ids)), "a record was emitted twice"
    assert all(server.rows[i][0] >= floor_us for i in walk.ids), "older than the floor"
    expected = {i for i, (u, _) in server.rows.items() if u >= floor_us}
    assert_none_missing(server, [walk], expected, walk.ids)
    assert_newest(walk.walker, server, walk.ids)


@PROPERTY
@given(server=servers(), page_size=page_sizes, data=st.data())
def test_a_walk_killed_and_resumed_from_its_checkpoint_misses_nothing(
    server: ModelServer, page_size: int, data: st.DataObject
) -> None:
    """A run killed after any page, resumed from the entry its last STATE held: together
    they emit everything the run owed, and the bookmark they leave makes the next run
    read nothing again. Full runs, and runs from a complete earlier run's bookmark."""
    stored = Stored()
    owed = set(server.rows)
    if data.draw(st.booleans(), label="from a bookmark"):
        stored.run(server, page_size)
        server.changed.clear()
        for pick in data.draw(st.lists(st.integers(0, 10**6), max_size=12), label="writes"):
            if pick % 3 == 0 or not server.rows:
                server.create()
            else:
                server.touch(sorted(server.rows)[pick % len(server.rows)])
        owed = set(server.changed)
    before = dict(stored.entry)
    first = stored.run(server, page_size, stop_after=data.draw(st.integers(1, 12)))
    # The kill: only what the last STATE held survives (`Stored.write` went through JSON).
    if not first.walker.finished_walk:
        assert stored.bookmark == (
            timestamps.parse(before[BOOKMARK_KEY]) if before.get(BOOKMARK_KEY) else None
        ), "a bookmark moved before its walk completed"
    was_saved = WALK_KEY in stored.entry
    if first.ids and not first.walker.finished_walk:
        assert was_saved, "a walk that emitted records and was killed did not save its position"
    if was_saved:
        # What the walk learned and where its cursor stood come back whole: a lost memory
        # would drop the tie groups it could not read from the end-of-walk report.
        resumed = stored.walker(page_size)
        assert resumed.memory == first.walker.memory, "the walk's memory changed on resume"
        assert (resumed.cursor, resumed.cursor_kind) == (
            first.walker.cursor,
            first.walker.cursor_kind,
        )
    second = stored.run(server, page_size)
    assert second.walker.resumed == was_saved
    assert WALK_KEY not in stored.entry, "a completed walk left its position behind"
    got = first.ids + second.ids
    assert_none_missing(server, [first, second], owed, got)
    # The one promotion rule: the newest `updated` emitted, never back.
    emitted = [at(server.rows[i][0]) for i in got]
    previous = [timestamps.parse(before[BOOKMARK_KEY])] if before.get(BOOKMARK_KEY) else []
    assert stored.bookmark == max(emitted + previous, default=None)
    if was_saved:
        # A kill costs at most a page plus the tie group at the cursor, read again.
        again = set(first.ids) & set(second.ids)
        assert len(again) <= page_size + sum(
            1 for u, _ in server.rows.values() if at(u) == first.walker.cursor
        )
    if not lossy(server):
        assert stored.run(server, page_size).ids == [], "an unchanged rerun emits nothing"


@PROPERTY
@given(
    server=servers(),
    page_size=page_sizes,
    writes=st.lists(st.tuples(st.integers(1, 25), st.integers(0, 10**6), st.booleans())),
)
def test_records_changed_mid_walk_arrive_by_the_next_run(
    server: ModelServer, page_size: int, writes: list[tuple[int, int, bool]]
) -> None:
    """A record written during a walk moves above the walk's top: the next run gets it."""
    before = dict(server.rows)
    top = server.newest()

    def write(pages: int) -> None:
        for when, pick, new in writes:
            if when != pages:
                continue
            if new or not server.rows:
                server.create()
            else:
                server.touch(sorted(server.rows)[pick % len(server.rows)])

    stored = Stored()
    first = stored.run(server, page_size, between_pages=write)
    untouched = set(before) - server.changed
    assert_none_missing(server, [first], untouched, first.ids)
    for i in server.changed:
        assert i in first.ids or top is None or server.rows[i][0] > top
    assert first.walker.newest is None or (top is not None and first.walker.newest <= at(top))

    # The next run, from the state the first one left, brings every record as it is now.
    second = stored.run(server, page_size)
    latest: dict[int, int] = {}
    for record in first.emitted + second.emitted:
        latest[record["id"]] = record["rev"]
    up_to_date = {i for i, (_, rev) in server.rows.items() if latest.get(i) == rev}
    assert_none_missing(server, [first, second], server.rows, up_to_date)


@PROPERTY
@given(
    server=servers(),
    page_size=page_sizes,
    changes=st.lists(st.tuples(st.sampled_from(["touch", "create", "bump", "tie"]), st.integers())),
    start_before=st.one_of(st.none(), st.integers(0, 20 * SECOND)),
)
def test_a_rerun_emits_only_what_changed(
    server: ModelServer,
    page_size: int,
    changes: list[tuple[str, int]],
    start_before: int | None,
) -> None:
    """Records at the bookmark are not emitted again unless their rev changed, also with
    a `start_date` before the bookmark (the later of the two is the floor)."""
    oldest = min((u for u, _ in server.rows.values()), default=0)
    start = None if start_before is None else timestamps.normalize(at(oldest - start_before))
    stored = Stored(start_date=start)
    first = stored.run(server, page_size)

    rerun = stored.run(server, page_size)
    assert rerun.ids == [], "an unchanged rerun emits nothing"

    server.changed.clear()
    newest = server.newest()
    for kind, pick in changes:
        ids = sorted(server.rows)
        if kind == "create" or not ids:
            server.create()
        elif kind == "touch":
            server.touch(ids[pick % len(ids)])
        elif newest is not None and server.newest() == newest:
            # Within the bookmark's own tick: a new rev (or a new record) at the same
            # `updated`. Only possible while nothing newer has been written.
            at_top = [i for i in ids if server.rows[i][0] == newest]
            if kind == "bump":
                server.bump(at_top[pick % len(at_top)])
            else:
                server.create(updated=newest)
    after = stored.run(server, page_size)
    assert len(after.ids) == len(set(after.ids))
    extra = set(after.ids) - server.changed
    # Only changed records come again; in the lossy case also some an earlier run could
    # not reach (a change can move the member that hid them out of their group).
    assert not extra or (lossy(server) and not extra & set(first.ids)), extra
    assert_none_missing(server, [first, rerun, after], server.changed, after.ids)
    for record in after.emitted:
        assert record["rev"] == server.rows[record["id"]][1]

    # And again: nothing.
    last = stored.run(server, page_size)
    assert last.ids == []


def test_records_without_rev_are_emitted_again() -> None:
    """No `rev`, no proof that a record is unchanged: it comes again, as before."""
    rows = {1: [5, 1], 2: [5, 1], 3: [3, 1]}
    server = ModelServer(rows, US, False, US, None, "zero", revs=False)
    stored = Stored()
    assert sorted(stored.run(server, 10).ids) == [1, 2, 3]
    assert stored.bookmark == at(5)
    assert stored.revs == []
    assert sorted(stored.run(server, 10).ids) == [1, 2]
    server.revs = True
    # With revs, the first run that sees them records them; the next skips them.
    stored.run(server, 10)
    assert stored.revs == [[1, 1], [2, 1]]
    assert stored.run(server, 10).ids == []


def test_a_huge_group_at_the_bookmark_keeps_a_bounded_set() -> None:
    """STATE keeps at most MAX_REVS pairs; the rest of the group comes again, never less."""
    rows = {i: [7 * SECOND, 1] for i in range(1, MAX_REVS + 6)}
    server = ModelServer(rows, SECOND, False, US, None, "zero")
    stored = Stored()
    first = stored.run(server, 600)
    assert len(first.ids) == MAX_REVS + 5
    assert len(stored.revs) == MAX_REVS
    rerun = stored.run(server, 600)
    assert sorted(rerun.ids) == sorted(set(rows) - {i for i, _ in stored.revs})
