"""contact_status's start estimate and progress lines (tap_heymarket/progress.py), on a
clock the test moves. The lines in a real run: tests/tap/test_contact_status.py."""

from __future__ import annotations

import logging

import pytest

from tap_heymarket.progress import RequestProgress, duration


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records]


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0, "under a minute"),
        (29, "under a minute"),
        (90, "about 2 min"),
        (3 * 3600 + 28 * 60, "about 3 h 28 min"),
        (7200, "about 2 h 0 min"),
    ],
)
def test_duration(seconds: float, text: str) -> None:
    assert duration(seconds) == text


def test_the_start_line_names_the_requests_and_the_time_at_the_pace(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    logger = logging.getLogger("t")
    RequestProgress(logger, "s", total=100_000, per_minute=480, clock=Clock()).start("contact")
    (line,) = lines(caplog)
    assert line == (
        "s: one request per contact, up to 100,000 requests (the API's count); "
        "about 3 h 28 min at 480 requests a minute"
    )


def test_a_line_at_each_tenth_with_the_time_left_at_the_measured_pace(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    clock = Clock()
    progress = RequestProgress(logging.getLogger("t"), "s", total=1000, per_minute=60, clock=clock)
    for _ in range(1000):
        clock.now += 0.5  # faster than the configured pace: the estimate follows the measure
        progress.advance()
    got = lines(caplog)
    assert len(got) == 10
    assert (
        got[0] == "s: 100 of up to 1,000 requests done (10%), about 8 min left at the pace so far"
    )
    assert (
        got[4] == "s: 500 of up to 1,000 requests done (50%), about 4 min left at the pace so far"
    )
    assert got[-1] == "s: 1,000 of up to 1,000 requests done (100%)"


def test_a_line_at_least_once_a_minute_between_tenths(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    clock = Clock()
    progress = RequestProgress(logging.getLogger("t"), "s", total=None, per_minute=60, clock=clock)
    progress.start("contact")
    for _ in range(200):
        clock.now += 1.0
        progress.advance()
    got = lines(caplog)
    assert "the API gave no count, so no estimate" in got[0]
    assert got[1:] == ["s: 60 requests done", "s: 120 requests done", "s: 180 requests done"]


def test_fewer_requests_than_the_count_end_without_a_line_past_it(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """An incremental run reads fewer contacts than the team's count: the lines say `up to`."""
    caplog.set_level(logging.INFO)
    clock = Clock()
    progress = RequestProgress(logging.getLogger("t"), "s", total=50, per_minute=60, clock=clock)
    for _ in range(7):
        clock.now += 1.0
        progress.advance()
    assert lines(caplog) == [
        "s: 5 of up to 50 requests done (10%), about 1 min left at the pace so far"
    ]
