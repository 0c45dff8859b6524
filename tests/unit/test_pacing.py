"""The pacer (tap_heymarket/pacing.py) on a simulated clock: after 429s it settles under
the API's real limit instead of climbing straight back into it, and it says what the 429s
cost. Measured against the sandbox in real time: docs/benchmarks.md, "A shared quota"."""

from __future__ import annotations

import pytest

from tap_heymarket import pacing
from tap_heymarket.pacing import RequestPacer


class Clock:
    """time.monotonic and time.sleep of a simulated run."""

    def __init__(self) -> None:
        self.now = 0.0

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += max(seconds, 0.0)


class TokenBucket:
    """The sandbox's rate limiter (heymarket_sandbox/faults.py): `limit` a minute, bursts
    of a tenth of it."""

    def __init__(self, clock: Clock, limit: int) -> None:
        self.clock, self.rate, self.cap = clock, limit / 60.0, max(1, limit // 10)
        self.tokens, self.at = float(self.cap), 0.0

    def admit(self) -> bool:
        now = self.clock.now
        self.tokens = min(self.cap, self.tokens + (now - self.at) * self.rate)
        self.at = now
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        return False


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    fake = Clock()
    monkeypatch.setattr(pacing, "time", fake)
    return fake


def simulate(clock: Clock, pacer: RequestPacer, limit: int, seconds: float) -> list:
    """The client's loop (client.py): wait, send; a 429 slows the pacer and the request is
    retried after a second. Returns (time, admitted) for every attempt."""
    server = TokenBucket(clock, limit)
    attempts = []
    while clock.now < seconds:
        pacer.wait()
        clock.now += 0.02  # the answer's round trip
        admitted = server.admit()
        attempts.append((clock.now, admitted))
        if admitted:
            pacer.succeeded()
        else:
            pacer.throttled(1.0)
            clock.sleep(1.0)
    return attempts


def test_after_429s_the_pace_settles_under_the_limit(clock: Clock) -> None:
    """A quota of 120 a minute shared with another integration, the tap at its default 480:
    after the first minute almost no request is refused and most of the quota is used."""
    pacer = RequestPacer(480)
    attempts = simulate(clock, pacer, limit=120, seconds=600)
    later = [admitted for at, admitted in attempts if at >= 60]
    refused = later.count(False) / len(later)
    used = later.count(True) / (clock.now - 60) * 60 / 120
    assert refused <= 0.02, refused
    assert used >= 0.9, used
    assert pacer.pace <= 130


def test_a_429_is_not_forgotten_after_a_few_answers(clock: Clock) -> None:
    pacer = RequestPacer(480)
    pacer.throttled(1.0)
    slowed = pacer.interval
    for _ in range(50):
        pacer.succeeded()
    assert slowed > pacer.interval > 0.95 * slowed
    for _ in range(100_000):
        pacer.succeeded()
    assert pacer.interval == pacer.base_interval, "it probes back up to the configured pace"


def test_the_summary_names_the_cost_and_the_setting(clock: Clock) -> None:
    pacer = RequestPacer(480)
    assert pacer.throttle_summary() is None
    simulate(clock, pacer, limit=120, seconds=300)
    summary = pacer.throttle_summary()
    assert summary is not None
    assert f"to {pacer.throttled_requests:,} of {pacer.requests:,} requests" in summary
    assert f"{pacer.throttled_wait:.0f} s spent waiting" in summary
    assert f"settled at about {pacer.pace} requests a minute" in summary
    assert "(max_requests_per_minute is 480)" in summary
    assert pacer.suggested_pace < pacer.pace
    assert f"set max_requests_per_minute to {pacer.suggested_pace} or lower" in summary
