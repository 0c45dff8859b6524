"""Client-side request pacing, so a sync stays under Heymarket's 500 requests/minute.

Requests start at least `60 / max_requests_per_minute` seconds apart. Pacing on
request *starts* means slow responses cost no extra waiting, so a sync runs at the
configured rate whenever the API can keep up, and never bursts above it.
"""

from __future__ import annotations

import threading
import time


class RequestPacer:
    """Spaces request starts evenly at a fixed maximum rate (thread-safe)."""

    #: After a 429 the interval grows by this factor, up to MAX_INTERVAL; each success
    #: then shrinks it back towards the configured pace. The API's limit may be shared
    #: with other clients of the team, so the configured pace is not always safe.
    BACKOFF_FACTOR = 1.5
    RECOVERY_FACTOR = 0.9
    MIN_THROTTLED_INTERVAL = 0.05
    MAX_INTERVAL = 10.0

    def __init__(self, max_requests_per_minute: float) -> None:
        self.base_interval = 60.0 / max_requests_per_minute if max_requests_per_minute > 0 else 0.0
        self.interval = self.base_interval
        self._next_start = 0.0
        self._lock = threading.Lock()

    def throttled(self) -> None:
        """The API answered 429: slow down for the requests that follow."""
        grown = max(self.interval, self.MIN_THROTTLED_INTERVAL) * self.BACKOFF_FACTOR
        self.interval = min(grown, self.MAX_INTERVAL)

    def succeeded(self) -> None:
        """An answer that was not a 429: recover towards the configured pace."""
        if self.interval > self.base_interval:
            self.interval = max(self.base_interval, self.interval * self.RECOVERY_FACTOR)

    def wait(self) -> None:
        """Block until the next request may start, then reserve its slot."""
        if not self.interval:
            return
        with self._lock:
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
