"""Client-side request pacing, so a sync stays under Heymarket's 500 requests/minute.

Requests start at least `60 / max_requests_per_minute` seconds apart. Pacing on
request *starts* means slow responses cost no extra waiting, so a sync runs at the
configured rate whenever the API can keep up, and never bursts above it.

The team's quota is shared with its other integrations, so the configured pace is not
always one the API accepts. Each 429 slows the pace by a tenth; each other answer then
speeds it up by a thousandth, so the pace settles just under what the API accepts and
stays there, probing upward slowly (about ten minutes from a quarter of the configured
pace back to all of it), instead of climbing straight back into the limit. The pacer
also counts what the 429s cost, for the summary a run ends with (`throttle_summary`).
"""

from __future__ import annotations

import threading
import time


class RequestPacer:
    """Spaces request starts evenly at a maximum rate that 429s lower (thread-safe)."""

    #: A 429 multiplies the interval by SLOW_DOWN; any other answer by SPEED_UP, never
    #: below the configured interval.
    SLOW_DOWN = 1.1
    SPEED_UP = 0.999
    MIN_THROTTLED_INTERVAL = 0.05
    MAX_INTERVAL = 10.0

    def __init__(self, max_requests_per_minute: float) -> None:
        self.max_requests_per_minute = max_requests_per_minute
        self.base_interval = 60.0 / max_requests_per_minute if max_requests_per_minute > 0 else 0.0
        self.interval = self.base_interval
        self._next_start = 0.0
        self._lock = threading.Lock()
        #: What the run's 429s cost: how many, of how many requests, and the seconds waited.
        self.requests = 0
        self.throttled_requests = 0
        self.throttled_wait = 0.0
        self._summarised = False
        #: Answers of any kind so far: none yet means the API was never reached (client.py).
        self.answers = 0

    def throttled(self, wait: float) -> None:
        """The API answered 429 and the request will be retried after `wait` seconds:
        slow down for the requests that follow."""
        with self._lock:
            self.answers += 1
            self.throttled_requests += 1
            self.throttled_wait += wait
            grown = max(self.interval, self.MIN_THROTTLED_INTERVAL) * self.SLOW_DOWN
            self.interval = min(grown, self.MAX_INTERVAL)

    def succeeded(self) -> None:
        """An answer that was not a 429: probe slowly back towards the configured pace."""
        with self._lock:
            self.answers += 1
            if self.interval > self.base_interval:
                self.interval = max(self.base_interval, self.interval * self.SPEED_UP)

    def wait(self) -> None:
        """Block until the next request may start, then reserve its slot."""
        with self._lock:
            self.requests += 1
            if not self.interval:
                return
            now = time.monotonic()
            start = max(now, self._next_start)
            self._next_start = start + self.interval
        delay = start - now
        if delay > 0:
            time.sleep(delay)

    def pause(self, seconds: float) -> None:
        """Hold every later request back by `seconds` (after a 429 with Retry-After)."""
        with self._lock:
            self._next_start = max(self._next_start, time.monotonic() + seconds)

    @property
    def pace(self) -> int:
        """The current pace, in requests a minute."""
        return round(60.0 / self.interval) if self.interval else 0

    @property
    def suggested_pace(self) -> int:
        """A `max_requests_per_minute` under what the API accepted: the settled pace probes
        upward until the next 429, so a tenth below it."""
        return max(1, int(self.pace * 0.9))

    def throttle_summary(self) -> str | None:
        """One line on what the run's 429s cost and which setting to lower; None if the
        API never answered 429, and None once it was given (one line per run)."""
        if not self.throttled_requests or self._summarised:
            return None
        self._summarised = True
        share = 100.0 * self.throttled_requests / max(self.requests, 1)
        return (
            f"the API answered HTTP 429 (rate limited) to {self.throttled_requests:,} of "
            f"{self.requests:,} requests ({share:.1f}%), {self.throttled_wait:.0f} s spent "
            f"waiting; the pace settled at about {self.pace} requests a minute "
            f"(max_requests_per_minute is {self.max_requests_per_minute:g}). Another "
            "integration may share the team's quota of 500 requests a minute: set "
            f"max_requests_per_minute to {self.suggested_pace} or lower to avoid the 429s"
        )
