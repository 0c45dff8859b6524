"""How far a stream that costs one request per item has come, and how long it has left.

`contact_status` makes one request per contact a run reads: hours for a large team. A user
must see at its start how many requests it will make and about how long they take at the
configured pace, and then, while it runs, how many are done and the time left at the pace
measured so far (contact_streams.py: `ContactStatusStream`).
"""

from __future__ import annotations

import logging
import time
import typing as t

from tap_heymarket.run_log import plural

#: A progress line at each tenth of the total, and at least once a minute in between.
STEPS = 10
EVERY_SECONDS = 60.0


def duration(seconds: float) -> str:
    """`about 3 h 28 min`, `about 6 min`, `under a minute`."""
    minutes = round(seconds / 60)
    if minutes < 1:
        return "under a minute"
    hours, minutes = divmod(minutes, 60)
    return f"about {hours} h {minutes} min" if hours else f"about {minutes} min"


class RequestProgress:
    """Start estimate and progress lines for `total` requests at most, one per item.

    `total` is an upper bound when the run may read fewer items (an incremental run reads
    only the contacts changed since its bookmark), or None when the API gave no count; the
    lines then say what is known.
    """

    def __init__(
        self,
        logger: logging.Logger,
        name: str,
        *,
        total: int | None,
        per_minute: int,
        clock: t.Callable[[], float] = time.monotonic,
    ) -> None:
        self.logger = logger
        self.name = name
        self.total = total
        self.per_minute = per_minute
        self.clock = clock
        self.done = 0
        self.started = clock()
        self._last_line = self.started
        self._next_step = 1

    def start(self, what: str) -> None:
        """One line: how many requests at most, and how long they take at the pace."""
        if self.total is None:
            self.logger.info(
                "%s: one request per %s; the API gave no count, so no estimate (%d requests "
                "a minute at most)",
                self.name,
                what,
                self.per_minute,
            )
            return
        self.logger.info(
            "%s: one request per %s, up to %s requests (the API's count); %s at %d "
            "requests a minute",
            self.name,
            what,
            f"{self.total:,}",
            duration(self.total / self.per_minute * 60),
            self.per_minute,
        )

    def advance(self) -> None:
        """One request done; a progress line at each tenth of the total or each minute."""
        self.done += 1
        now = self.clock()
        step_reached = self.total and self.done * STEPS >= self._next_step * self.total
        if step_reached:
            while self.total and self.done * STEPS >= self._next_step * self.total:
                self._next_step += 1
        if step_reached or now - self._last_line >= EVERY_SECONDS:
            self._last_line = now
            self.logger.info("%s: %s", self.name, self.status(now))

    def status(self, now: float) -> str:
        """`1,200 of up to 3,000 requests done (40%), about 4 min left at the pace so far`."""
        if not self.total:
            return f"{plural(self.done, 'request')} done"
        left = max(self.total - self.done, 0)
        elapsed = now - self.started
        percent = min(100, self.done * 100 // self.total)
        line = f"{self.done:,} of up to {self.total:,} requests done ({percent}%)"
        if left == 0:
            return line
        return f"{line}, {duration(left * elapsed / self.done)} left at the pace so far"
