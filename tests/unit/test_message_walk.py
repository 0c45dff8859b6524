"""Property tests of the messages walk (`tap_heymarket/message_walk.py`) against a model.

No HTTP and no sandbox: `ModelMessages` answers `POST /v1/messages/all` and its count under
every reading the docs leave open (cursor field `created_at`, `date` or neither; an upper or a
lower bound; `<`/`>` or `<=`/`>=`; `order: updated_at` honoured or not, and the cursor then
filtering on `updated` or on `date`; `ascending` honoured or not; `page` ignored, 0-based or
1-based; `limit` clamped or not), over messages with microsecond, millisecond or whole-second
timestamps, broadcast ties on `date` and batch ties on `updated`. Each run probes the model,
chooses a strategy and walks, driven like the SDK drives it; state passes between runs and
across kills through JSON, as in STATE.

Properties: the probe never claims a behaviour the model lacks; a walk emits every message
once, or reports exactly what it could not reach; a walk killed and resumed misses nothing;
after status changes and new messages, the next run brings every change (walks by
`updated`), or exactly the changes to messages created within the lookback window (walks
by creation time), and a full sync brings the rest.

Examples are derandomized. To search harder: `MESSAGE_EXAMPLES=3000 MESSAGE_RANDOM=1 pytest
tests/unit/test_message_walk.py`.
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
from tap_heymarket.message_bookmark import (
    CREATED_KEY,
    read_bookmarks,
    record_page,
    record_strategy,
)
from tap_heymarket.message_probe import Prober
from tap_heymarket.message_strategy import BY_UPDATED, Learned, MessagePage, Strategy, choose
from tap_heymarket.message_walk import MessageWalk
from tap_heymarket.state import message_state_errors
from tests.support.list_model import ListSemantics

US, MS, SECOND, HOUR = 1, 1000, 1_000_000, 3_600_000_000
EPOCH = datetime(2024, 5, 1, tzinfo=UTC)
EXAMPLES = int(os.environ.get("MESSAGE_EXAMPLES", "70"))
LOG = logging.getLogger("test_message_walk")

PROPERTY = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=not os.environ.get("MESSAGE_RANDOM"),
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def at(us: int) -> datetime:
    return EPOCH + timedelta(microseconds=us)


def to_us(value: datetime) -> int:
    return (value - EPOCH) // timedelta(microseconds=1)


@dataclass
class ModelMessages:
    """`POST /v1/messages/all` as the sandbox's switches describe it, answering through the
    shared list model (tests/support/list_model.py)."""

    #: id -> [date, updated] (µs after EPOCH)
    rows: dict[int, list[int]]
    cursor_field: str | None  # the body field read as the cursor (None: neither)
    before: bool
    inclusive: bool
    order_honoured: bool
    cursor_on_ordered: bool
    ascending_honoured: bool
    page_mode: t.Literal["ignore", "zero", "one"]
    max_limit: int | None
    requests: int = 0
    now: int = 0
    changed: set[int] = field(default_factory=set)

    def __post_init__(self) -> None:
        self.now = max((u for _, u in self.rows.values()), default=0)

    def _semantics(self) -> ListSemantics:
        return ListSemantics(
            inclusive=self.inclusive,
            before=self.before,
            max_limit=self.max_limit,
            page_mode=self.page_mode,
        )

    def _select(self, body: dict[str, t.Any], *, limit: int | None = None) -> list[int]:
        """The ids answered (with `limit=None`: every one the filter lets through)."""
        sort_updated = self.order_honoured and body.get("order") == "updated_at"
        filter_updated = sort_updated and self.cursor_on_ordered
        sort_key, filter_key = int(sort_updated), int(filter_updated)
        raw = body.get(self.cursor_field) if self.cursor_field else None
        semantics = self._semantics()
        if limit is None:
            semantics = ListSemantics(inclusive=self.inclusive, before=self.before)
        return semantics.answer(
            ((i, row[sort_key], row[filter_key]) for i, row in self.rows.items()),
            cut=to_us(timestamps.parse(raw)) if raw is not None else None,
            limit=limit or max(len(self.rows), 1),
            page=body.get("page") if limit is not None else None,
            ascending=self.ascending_honoured and body.get("ascending") is True,
        )

    def answer(self, body: dict[str, t.Any]) -> MessagePage:
        self.requests += 1
        ids = self._select(body, limit=body.get("limit", 30))
        chosen = [(i, self.rows[i]) for i in ids]
        return MessagePage(
            records=[{"id": i} for i, _ in chosen],
            updated=[at(u) for _, (_, u) in chosen],
            dates=[at(d) for _, (d, _) in chosen],
        )

    def count(self, body: dict[str, t.Any]) -> int:
        return len(self._select(body))

    # -- what may happen between (or during) runs --------------------------------------

    def change(self, message_id: int) -> None:
        """A status change: `updated` becomes now, later than every other."""
        self.now += 1
        self.rows[message_id][1] = self.now
        self.changed.add(message_id)

    def send(self) -> int:
        self.now += 1
        new_id = max(self.rows, default=0) + 1
        self.rows[new_id] = [self.now, self.now]
        self.changed.add(new_id)
        return new_id

    def latest(self) -> dict[int, int]:
        return {i: u for i, (_, u) in self.rows.items()}

    # -- the behaviours a strategy relies on ---------------------------------------------

    def supports(self, strategy: Strategy) -> bool:
        cursor = self.cursor_field is not None
        by_updated = self.order_honoured and self.cursor_on_ordered and cursor
        paged = self.page_mode != "ignore"
        return {
            "updated-desc": by_updated and self.before,
            "updated-asc": by_updated and not self.before and self.ascending_honoured,
            "updated-offset": self.order_honoured and paged,
            "created-desc": cursor and self.before,
            "created-asc": cursor and not self.before and self.ascending_honoured,
            "created-offset": paged,
            "updated-top": self.order_honoured,
            "created-top": True,
        }[strategy]

    def lossless(self, strategy: Strategy) -> bool:
        """Only a clamp can lose: below a tie group with `page` ignored, or for a top walk."""
        if self.max_limit is None or strategy.endswith("-offset"):
            return True
        return strategy.endswith(("-desc", "-asc")) and self.page_mode != "ignore"


@st.composite
def models(draw: st.DrawFn, *, max_messages: int = 60) -> ModelMessages:
    rows: dict[int, list[int]] = {}
    now = 100 * HOUR
    next_id = 1
    groups = draw(st.lists(st.one_of(st.integers(1, 2), st.integers(3, 30)), max_size=25))
    for size in groups:
        if len(rows) + size > max_messages:
            break
        now += draw(st.sampled_from([1, 1000, 1_000_000, HOUR, 30 * HOUR]))
        date = now - now % draw(st.sampled_from([US, US, MS, SECOND]))
        batch = date + draw(st.sampled_from([0, 1, 2_500_000, 40 * HOUR]))
        for _ in range(size):
            how = draw(st.sampled_from(["same", "batch", "soon", "late"]))
            updated = {
                "same": date,
                "batch": batch,
                "soon": date + draw(st.integers(1, 30_000_000)),
                "late": date + draw(st.integers(1, 200 * HOUR)),
            }[how]
            rows[next_id] = [date, updated]
            next_id += draw(st.integers(1, 3))
    return ModelMessages(
        rows=rows,
        cursor_field=draw(st.sampled_from(["created_at", "date", None])),
        before=draw(st.booleans()),
        inclusive=draw(st.booleans()),
        order_honoured=draw(st.booleans()),
        cursor_on_ordered=draw(st.booleans()),
        ascending_honoured=draw(st.booleans()),
        page_mode=draw(st.sampled_from(["ignore", "zero", "one"])),
        max_limit=draw(st.one_of(st.none(), st.integers(1, 12))),
    )


page_sizes = st.integers(1, 15)
lookbacks = st.sampled_from([0, 1, 72])


@dataclass
class Stored:
    """The messages entry of STATE between runs, read and written only through
    tap_heymarket/message_bookmark.py (as `MessagesStream` does) and kept as JSON."""

    entry: dict[str, t.Any] = field(default_factory=dict)

    @classmethod
    def at(cls, when: datetime) -> Stored:
        """Both bookmarks at `when`, as a completed walk leaves them."""
        value = timestamps.normalize(when)
        return cls({"replication_key_value": value, CREATED_KEY: value})

    @property
    def updated(self) -> datetime | None:
        return read_bookmarks(self.entry).updated

    @property
    def date(self) -> datetime | None:
        return read_bookmarks(self.entry).date

    @property
    def walk(self) -> t.Any:
        return read_bookmarks(self.entry).walk


@dataclass
class Run:
    walk: MessageWalk
    strategy: Strategy
    learned: Learned
    emitted: list[dict[str, t.Any]]
    #: id -> updated (µs) of each emitted message, as read
    read: dict[int, int]

    #: (id, updated) of each emitted message, in order
    versions: list[tuple[int, int]] = field(default_factory=list)
    #: the state entry after the run's last page
    stored: Stored = field(default_factory=Stored)

    @property
    def ids(self) -> list[int]:
        return [r["id"] for r in self.emitted]


def run(
    model: ModelMessages,
    page_size: int,
    stored: Stored | None = None,
    *,
    lookback: int = 72,
    stop_after: int | None = None,
    between_pages: t.Callable[[int], None] | None = None,
) -> Run:
    """One tap run: probe, choose, walk (until done, or `stop_after` pages: a kill)."""
    entry = json.loads(json.dumps((stored or Stored()).entry))
    start = read_bookmarks(entry)
    learned = Prober(model.answer, LOG).run(Learned.from_state(start.learned))
    strategy = choose(learned)
    assert model.supports(strategy), f"the probe chose {strategy} from {learned}"
    record_strategy(entry, strategy, learned)
    walk = MessageWalk(
        strategy=strategy,
        learned=learned,
        page_size=page_size,
        bookmark_updated=start.updated,
        bookmark_date=start.date,
        start_date=None,
        lookback=timedelta(hours=lookback),
        saved=start.walk,
        count=model.count,
        logger=LOG,
    )
    budget = 10 * len(model.rows) + 40
    out = Run(walk, strategy, learned, [], {}, stored=Stored(entry))
    pages = 0
    while not walk.done:
        if stop_after is not None and pages >= stop_after:
            break
        assert pages < budget, f"{strategy}: no end after {pages} requests"
        page = model.answer(walk.body())
        for record in walk.consume(page):
            out.emitted.append(record)
            i = next(j for j, r in enumerate(page.records) if r["id"] == record["id"])
            out.read[record["id"]] = to_us(page.updated[i])
            out.versions.append((record["id"], out.read[record["id"]]))
        pages += 1
        assert record_page(entry, walk) == walk.done
        out.stored = Stored(json.loads(json.dumps(entry)))
        entry = out.stored.entry
        assert message_state_errors({"bookmarks": {"messages": entry}}) == [], entry
        if between_pages is not None:
            between_pages(pages)
    return out


def assert_nothing_lost_silently(
    model: ModelMessages, runs: list[Run], expected: t.Iterable[int], got: t.Iterable[int]
) -> None:
    """Every expected message was emitted, or the loss is one the walk reported."""
    missing = set(expected) - set(got)
    if not missing:
        return
    strategy = runs[-1].strategy
    assert not model.lossless(strategy), f"{strategy} lost {sorted(missing)} on {model}"
    reported_groups = {g for r in runs for g, _ in r.walk.incomplete_groups()}
    shortfall = [r.walk.shortfall for r in runs if r.walk.shortfall is not None]
    if strategy.endswith("-top"):
        assert shortfall, f"{strategy} lost {sorted(missing)} without a word"
        return
    key = 1 if strategy in BY_UPDATED else 0
    silent = {
        i for i in missing if timestamps.normalize(at(model.rows[i][key])) not in reported_groups
    }
    assert not silent, f"{strategy} lost {sorted(silent)} silently ({sorted(reported_groups)})"


# -- properties -------------------------------------------------------------------------


@PROPERTY
@given(model=models(), page_size=page_sizes)
def test_a_full_sync_emits_every_message_once_or_reports_the_loss(
    model: ModelMessages, page_size: int
) -> None:
    full = run(model, page_size)
    assert len(full.ids) == len(set(full.ids)), f"{full.strategy}: a message emitted twice"
    assert_nothing_lost_silently(model, [full], model.rows, full.ids)
    if full.walk.shortfall is not None and full.walk.shortfall[0] is not None:
        # A full top walk counts exactly what it could not reach.
        assert full.walk.shortfall[0] == len(set(model.rows) - set(full.ids))
    read = full.read.values()
    assert full.walk.max_updated == (at(max(read)) if read else None), "bookmark != newest read"


#: Probing alone is cheap, so it gets a larger budget than the walks: enough that every
#: combination of behaviours comes up in the fast suite, with derandomized examples.
PROBE_PROPERTY = settings(PROPERTY, max_examples=EXAMPLES * 6)


@PROBE_PROPERTY
@given(model=models())
def test_the_probe_never_chooses_a_walk_the_api_cannot_serve(model: ModelMessages) -> None:
    learned = Prober(model.answer, LOG).run()
    strategy = choose(learned)
    assert model.supports(strategy), f"the probe chose {strategy} from {learned} on {model}"


@PROPERTY
@given(model=models(), page_size=page_sizes, data=st.data())
def test_a_killed_walk_resumes_from_its_checkpoint_and_misses_nothing(
    model: ModelMessages, page_size: int, data: st.DataObject
) -> None:
    first = run(model, page_size, stop_after=data.draw(st.integers(1, 8)))
    stored = first.stored
    if first.walk.done:
        assert stored.walk is None, "a completed walk leaves no position"
    else:
        assert (stored.updated, stored.date) == (None, None), "a bookmark moved mid-walk"
        position = json.loads(json.dumps(first.walk.checkpoint()))
        assert stored.walk == position, "the position after the last page is saved"
    second = run(model, page_size, stored)
    got = first.ids + second.ids
    assert_nothing_lost_silently(model, [first, second], model.rows, got)
    assert second.walk.done and second.stored.walk is None
    read = {**first.read, **second.read}
    if read:
        assert second.stored.updated == at(max(read.values())), "updated bookmark != newest"
        newest_date = max(at(model.rows[i][0]) for i in read)
        assert second.stored.date == newest_date, "created bookmark != newest"
    if stored.walk is not None and first.strategy == second.strategy:
        assert second.walk.resumed, "the same strategy and floor: the walk resumes"
        assert len(second.ids) == len(set(second.ids))


@PROPERTY
@given(
    model=models(),
    page_size=page_sizes,
    lookback=lookbacks,
    changes=st.lists(st.tuples(st.booleans(), st.integers(0, 10**6)), max_size=12),
    during=st.lists(st.tuples(st.integers(1, 6), st.booleans(), st.integers(0, 10**6))),
)
def test_changes_arrive_by_the_next_run_within_what_the_strategy_can_see(
    model: ModelMessages,
    page_size: int,
    lookback: int,
    changes: list[tuple[bool, int]],
    during: list[tuple[int, bool, int]],
) -> None:
    """Status changes and new messages, between runs and during the first one."""

    def mutate(new: bool, pick: int) -> None:
        if new or not model.rows:
            model.send()
        else:
            model.change(sorted(model.rows)[pick % len(model.rows)])

    def mid_walk(pages: int) -> None:
        for when, new, pick in during:
            if when == pages:
                mutate(new, pick)

    first = run(model, page_size, lookback=lookback, between_pages=mid_walk)
    # While messages change under it, a walk may emit a message again only at a new version
    # (`updated-asc` reaching it again at the top), never the same version twice.
    assert len(first.versions) == len(set(first.versions)), f"{first.strategy}: repeats"
    stored = first.stored
    for new, pick in changes:
        mutate(new, pick)
    second = run(model, page_size, stored, lookback=lookback)
    assert len(second.ids) == len(set(second.ids)), "a message emitted twice in one run"

    latest = model.latest()
    merged = {**first.read, **second.read}
    current = {i for i, u in latest.items() if merged.get(i) == u}
    # Each completed run moves the bookmarks to the newest values read so far.
    everything = [*first.read.items(), *second.read.items()]
    if everything:
        assert second.stored.updated == at(max(u for _, u in everything)), "updated bookmark"
        assert second.stored.date == max(at(model.rows[i][0]) for i, _ in everything)
    runs = [first, second]
    if first.strategy in BY_UPDATED and second.strategy in BY_UPDATED:
        assert_nothing_lost_silently(model, runs, latest, current)
    elif second.strategy not in BY_UPDATED:
        # By creation time: every message is read at some version; a change is caught
        # when the message was created within the lookback before the bookmark...
        assert_nothing_lost_silently(model, runs, latest, merged)
        bookmark = stored.date or stored.updated
        floor = bookmark - timedelta(hours=lookback) if bookmark else None
        assert second.walk.floor == floor, "the created bookmark minus the lookback"
        window = {i for i in model.changed if floor is None or at(model.rows[i][0]) >= floor}
        assert_nothing_lost_silently(model, runs, window, current)
        # ...and not otherwise, until a full sync.
        if second.walk.floor is not None and model.lossless(second.strategy):
            older = {i for i in model.changed - set(first.read) if i not in window}
            assert not older & set(second.ids), "a walk by date cannot see older messages"
    full = run(model, page_size, lookback=lookback)
    assert_nothing_lost_silently(
        model, [full], latest, {i for i, u in full.read.items() if u == latest[i]}
    )


def test_a_probe_of_a_rich_api_finds_the_best_walk() -> None:
    """With enough messages the probe proves every behaviour the model has."""
    rows = {}
    for i in range(1, 61):
        date = i * 10 * SECOND + (i * 7919) % SECOND
        rows[i * 2] = [date, date + (i % 5) * 2 * HOUR + 17]
    cases: list[tuple[dict[str, t.Any], Strategy]] = [
        ({"before": True, "cursor_on_ordered": True}, "updated-desc"),
        ({"before": False, "cursor_on_ordered": True}, "updated-asc"),
        ({"before": False, "ascending_honoured": False, "page_mode": "one"}, "updated-offset"),
        # A lower bound on `updated` with `ascending` ignored: newest first, so a cursor
        # that only moves up would skip all but the first page (no updated-asc).
        (
            {"before": False, "cursor_on_ordered": True, "ascending_honoured": False},
            "updated-top",
        ),
        (
            {
                "before": False,
                "cursor_on_ordered": True,
                "ascending_honoured": False,
                "page_mode": "zero",
            },
            "updated-offset",
        ),
        ({"before": True, "order_honoured": False}, "created-desc"),
        ({"before": False, "order_honoured": False}, "created-asc"),
        ({"cursor_field": None, "order_honoured": False, "page_mode": "zero"}, "created-offset"),
        ({"before": False, "ascending_honoured": False}, "updated-top"),
        ({"cursor_field": None, "order_honoured": False}, "created-top"),
    ]
    for switches, expected in cases:
        model = ModelMessages(
            rows={k: list(v) for k, v in rows.items()},
            **{
                "cursor_field": "date",
                "before": True,
                "inclusive": False,
                "order_honoured": True,
                "cursor_on_ordered": False,
                "ascending_honoured": True,
                "page_mode": "ignore",
                "max_limit": None,
                **switches,
            },
        )
        learned = Prober(model.answer, LOG).run()
        assert choose(learned) == expected, (switches, learned)
        assert learned.cursor_field == model.cursor_field


def test_an_incremental_walk_includes_messages_at_exactly_its_floor() -> None:
    """Each walk kind, from a floor equal to some messages' key: they come again."""
    rows = {i: [i * SECOND, i * SECOND + (5 * SECOND if i % 2 else 0)] for i in range(1, 41)}
    for switches, strategy in (
        ({"before": True, "cursor_on_ordered": True}, "updated-desc"),
        ({"before": False, "cursor_on_ordered": True}, "updated-asc"),
        ({"before": False, "ascending_honoured": False, "page_mode": "zero"}, "updated-offset"),
        ({"before": False, "ascending_honoured": False}, "updated-top"),
        ({"before": True, "order_honoured": False}, "created-desc"),
        ({"before": False, "order_honoured": False}, "created-asc"),
        ({"cursor_field": None, "order_honoured": False, "page_mode": "one"}, "created-offset"),
        ({"before": False, "order_honoured": False, "ascending_honoured": False}, "created-top"),
    ):
        for inclusive in (False, True):
            model = ModelMessages(
                rows={k: list(v) for k, v in rows.items()},
                **{
                    "cursor_field": "created_at",
                    "before": True,
                    "inclusive": inclusive,
                    "order_honoured": True,
                    "cursor_on_ordered": False,
                    "ascending_honoured": True,
                    "page_mode": "ignore",
                    # A clamp below the data: only the top walks cannot get through it.
                    "max_limit": None if strategy.endswith("-top") else 4,
                    **switches,  # type: ignore[arg-type]
                },
            )
            key = 1 if strategy in BY_UPDATED else 0
            floor = at(rows[20][key])
            stored = Stored.at(floor)
            again = run(model, 5, stored, lookback=0)
            assert again.strategy == strategy
            want = {i for i, r in rows.items() if at(r[key]) >= floor}
            assert set(again.ids) == want, (strategy, inclusive, sorted(set(want) ^ set(again.ids)))
