"""The messages walk's vocabulary: what the probe can learn of the API, and the walk it picks.

`Learned` records what the answers of one run's probe proved about `POST /v1/messages/all`
(message_probe.py asks the questions); `choose` maps it to the best lossless strategy (the
table is in message_walk.py's docstring). The constants bound the probe's and the engines'
requests; `MessagePage` is a decoded answer; `api_time` and `mirror` are the two time
forms the engines use (the API's cursor text, and the mirrored time of an ascending walk).
"""

from __future__ import annotations

import itertools
import typing as t
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from tap_heymarket import timestamps
from tap_heymarket.errors import HeymarketFatalError
from tap_heymarket.walk_state import Page, PageMode

Key = t.Literal["updated", "date"]
CursorField = t.Literal["created_at", "date"]
Bound = t.Literal["before", "after"]
Strategy = t.Literal[
    "updated-desc",
    "updated-asc",
    "updated-offset",
    "created-desc",
    "created-asc",
    "created-offset",
    "updated-top",
    "created-top",
]
STRATEGIES: tuple[Strategy, ...] = t.get_args(Strategy)
#: Strategies that walk by `updated`: every status change is caught.
BY_UPDATED = frozenset(s for s in STRATEGIES if s.startswith("updated"))

#: Before any message: an upper bound here answers nothing, a lower bound everything.
PAST = datetime(2000, 1, 1, tzinfo=UTC)
#: Records asked for by the probe's questions about order.
PROBE_LIMIT = 20
#: Records per page while probing `page`.
PAGE_PROBE_LIMIT = 3
#: The largest `limit` the tap asks for when the API shows only the newest messages.
TOP_MAX_LIMIT = 100_000
MICROSECOND = timedelta(microseconds=1)
#: Mirror of an ascending walk: t -> 2 * PIVOT - t (exact, and keeps the precision).
PIVOT = datetime(2500, 1, 1, tzinfo=UTC)
#: Requests in a row that may bring nothing new to an offset walk before it fails loudly.
#: Messages arriving during the walk shift pages down, so a few such pages are normal; a
#: last line of defence against an API that stops honouring `page` mid-walk.
MAX_OFFSET_STALLS = 200
#: Prefix of every log line and error of the stream.
LABEL = "messages"

#: One question to the API: a body -> the decoded answer, or None for a 400 (rejected).
Ask = t.Callable[[dict[str, t.Any]], "MessagePage | None"]
#: `POST /v1/messages/all/count` with a body -> the number, or None when unavailable.
Count = t.Callable[[dict[str, t.Any]], "int | None"]


class MessagesPagingError(HeymarketFatalError):
    """The API answered against what the probe proved: stop instead of losing messages."""


@dataclass
class MessagePage(Page):
    """A decoded answer: records, their parsed `updated`, and their parsed `date`."""

    dates: list[datetime] = field(default_factory=list)

    def keys(self, key: Key) -> list[datetime]:
        return self.updated if key == "updated" else self.dates


def api_time(value: datetime) -> str:
    """A cursor for the API: RFC 3339, UTC, six fraction digits."""
    return timestamps.to_api(value, MICROSECOND)


def mirror(value: datetime) -> datetime:
    """The ascending walk's time: order reversed, differences kept (its own inverse)."""
    return PIVOT + (PIVOT - value)


def descending(values: list[datetime]) -> bool:
    return all(a >= b for a, b in itertools.pairwise(values))


# -- what the API does ---------------------------------------------------------------------


@dataclass
class Learned:
    """What the probe's answers proved about the API.

    Each behaviour is True/False (or a value) when an answer proved it either way, and None
    when the answers could not tell (too few messages, or none whose order differs between
    `date` and `updated`). `choose` takes None as absent; `merge` fills it from what an
    earlier run proved, so a quiet moment in the data does not downgrade the walk (every
    answer is still checked against what the walk relies on).
    """

    #: The API listed at least one message (with none, nothing can be learned).
    messages_seen: bool = False
    cursor_field: CursorField | None = None
    bound: Bound | None = None
    ascending: bool | None = None
    order_updated: bool | None = None
    cursor_on_updated: bool | None = None
    page_mode: PageMode | None = None

    def to_state(self) -> dict[str, t.Any]:
        return {
            "messages_seen": self.messages_seen,
            "cursor_field": self.cursor_field,
            "bound": self.bound,
            "ascending": self.ascending,
            "order_updated": self.order_updated,
            "cursor_on_updated": self.cursor_on_updated,
            "page_mode": self.page_mode,
        }

    @classmethod
    def from_state(cls, data: t.Any) -> Learned:
        """Tolerant: values it does not recognise are left unknown."""
        out = cls()
        if not isinstance(data, dict):
            return out
        out.messages_seen = data.get("messages_seen") is True
        if data.get("cursor_field") in ("created_at", "date"):
            out.cursor_field = data["cursor_field"]
        if data.get("bound") in ("before", "after"):
            out.bound = data["bound"]
        for name in ("ascending", "order_updated", "cursor_on_updated"):
            if isinstance(data.get(name), bool):
                setattr(out, name, data[name])
        if data.get("page_mode") in ("zero", "one", "ignored"):
            out.page_mode = data["page_mode"]
        return out

    def merge(self, earlier: Learned) -> Learned:
        """This run's findings, with what it could not tell taken from an earlier run."""
        if not earlier.messages_seen:
            return self
        if not self.messages_seen:
            return Learned(**{**earlier.to_state(), "messages_seen": False})
        out = Learned(**self.to_state())
        if out.cursor_field == earlier.cursor_field and out.bound == earlier.bound:
            for name in ("ascending", "cursor_on_updated"):
                if getattr(out, name) is None:
                    setattr(out, name, getattr(earlier, name))
        if out.order_updated is None:
            out.order_updated = earlier.order_updated
        if out.page_mode is None:
            out.page_mode = earlier.page_mode
        return out

    def describe(self) -> str:
        if self.cursor_field is None and self.bound is None and not self.messages_seen:
            return "the API listed no message, so nothing could be learned"
        parts = [] if self.messages_seen else ["no message listed; as learned before:"]
        if self.cursor_field is None:
            parts.append("neither `created_at` nor `date` is read as a cursor")
        else:
            side = "created before it" if self.bound == "before" else "created at or after it"
            parts.append(f"the cursor is `{self.cursor_field}`, read as {side}")
        if self.bound == "after":
            parts.append(f"`ascending` {_proved(self.ascending)}")
        parts.append(f"`order: updated_at` {_proved(self.order_updated)}")
        if self.order_updated and self.cursor_field:
            on = {True: "`updated`", False: "the created `date`", None: "(could not tell)"}
            parts.append(f"with it the cursor filters on {on[self.cursor_on_updated]}")
        if self.page_mode is not None:
            parts.append(
                "`page` is ignored"
                if self.page_mode == "ignored"
                else f"`page` counts from {0 if self.page_mode == 'zero' else 1}"
            )
        return "; ".join(parts)


def _proved(value: bool | None) -> str:
    return {True: "is honoured", False: "is not honoured", None: "could not be proved"}[value]


def choose(learned: Learned) -> Strategy:
    """The best walk the API allows (see the module docstring's table)."""
    by_updated_cursor = (
        learned.order_updated is True
        and learned.cursor_field is not None
        and learned.cursor_on_updated is True
    )
    if by_updated_cursor and learned.bound == "before":
        return "updated-desc"
    if by_updated_cursor and learned.bound == "after" and learned.ascending is True:
        return "updated-asc"
    paged = learned.page_mode in ("zero", "one")
    if learned.order_updated is True and paged:
        return "updated-offset"
    if learned.cursor_field is not None and learned.bound == "before":
        return "created-desc"
    if learned.cursor_field is not None and learned.bound == "after" and learned.ascending is True:
        return "created-asc"
    if paged:
        return "created-offset"
    return "updated-top" if learned.order_updated is True else "created-top"
