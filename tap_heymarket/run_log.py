"""A log a person can read: one summary line per stream, no SDK line that contradicts the
tap's own, and counts in words a user knows.

* `StreamTally`: what one stream did in the run (records, answers, requests, seconds), for
  the line `HeymarketStream.log_sync_costs` (client.py) writes once every stream has synced:
  `contacts: 300 records from 3 answers (3 requests) in 0.1 s` (the seconds from its first
  request to its last answer; a stream built from the contacts read has no time of its own).
* `drops_sdk_line`: the SDK lines a stream does not log. "Pagination stopped after 1 pages
  because no records were found in the last response" follows every walk, whose own line
  (pagination.py) already counts its requests, differently; "An unhandled error occurred
  while syncing" precedes every error the tap reports itself, in one line, at the end.
* `plural`: `1 request`, `3 requests`, `1,200 records`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

#: The SDK's message formats that a stream drops (singer_sdk/streams/rest.py and core.py).
PAGINATION_STOPPED = "Pagination stopped after %d pages because no records were found"
UNHANDLED_ERROR = "An unhandled error occurred while syncing '%s'"


def plural(count: int, word: str, words: str | None = None) -> str:
    """`1 request`, `0 requests`, `1,200 records` (`words` when the plural is not word+s)."""
    return f"{count:,} {word if count == 1 else (words or word + 's')}"


def drops_sdk_line(
    message: str, error: BaseException | None, handled: tuple[type[BaseException], ...]
) -> bool:
    """True for an SDK line the tap says better itself: the end of pagination, and the
    "unhandled error" before an error of a `handled` type, which the tap reports in one
    line (an API error, a refused state); an error the tap does not expect keeps it."""
    if message.startswith(PAGINATION_STOPPED):
        return True
    return message == UNHANDLED_ERROR and isinstance(error, handled)


@dataclass
class StreamTally:
    """What one stream did in the run."""

    records: int = 0
    answers: int = 0
    requests: int = 0
    first: float | None = None
    last: float | None = None
    clock: Callable[[], float] = field(default=time.monotonic, repr=False)

    def request(self) -> None:
        """An attempt at a request (a retry is another)."""
        self.requests += 1
        self._seen()

    def answer(self) -> None:
        """An answer the stream read."""
        self.answers += 1
        self._seen()

    def record(self) -> None:
        """A record emitted: counted only (this is the RECORD hot path; the time comes from
        the requests and answers)."""
        self.records += 1

    def _seen(self) -> None:
        now = self.clock()
        if self.first is None:
            self.first = now
        self.last = now

    def summary(self, name: str) -> str | None:
        """`contacts: 300 records from 3 answers (3 requests) in 0.1 s`; None if the stream
        did nothing in the run (not selected)."""
        if not (self.records or self.requests):
            return None
        if not self.requests:
            built = "built from the contacts read (no request of its own)"
            return f"{name}: {plural(self.records, 'record')} {built}"
        seconds = (self.last or 0.0) - (self.first or 0.0)
        return (
            f"{name}: {plural(self.records, 'record')} from {plural(self.answers, 'answer')} "
            f"({plural(self.requests, 'request')}) in {seconds:.1f} s"
        )
