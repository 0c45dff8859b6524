"""tap_heymarket/timestamps.py: the fast re-cut of a timestamp's text equals formatting it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from hypothesis import example, given, settings
from hypothesis import strategies as st

from tap_heymarket import timestamps

instants = st.datetimes(
    min_value=datetime(1970, 1, 1), max_value=datetime(2999, 12, 31), timezones=st.just(UTC)
)
offsets = st.sampled_from([timedelta(0), timedelta(hours=2), timedelta(hours=-5, minutes=-30)])


def _forms(value: datetime, offset: timedelta) -> list[str]:
    local = value.astimezone(timezone(offset))
    naive = value.replace(tzinfo=None)
    return [
        local.isoformat(),
        local.isoformat(timespec="seconds"),
        local.isoformat(timespec="milliseconds"),
        naive.isoformat(),
        naive.isoformat(timespec="seconds"),
        value.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        value.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z",  # milliseconds, contacts' form
        value.strftime("%G-W%V-%uT%H:%M:%S.%f")[:-3] + "Z",
        value.strftime("%Y-%m-%dT%H:%M:%S.%f").rstrip("0").rstrip(".") + "Z",
        value.strftime("%Y-%m-%dT%H:%M:%SZ"),
        value.strftime("%Y-%m-%d %H:%M:%S"),
        value.strftime("%Y-%m-%d %H:%M:%S.%fZ"),  # the length of the usual form, not it
        value.strftime("%G-W%V-%uT%H:%M:%S.%fZ"),  # an ISO week date (Python parses it)
    ]


@settings(max_examples=300, derandomize=True)
@given(instants, offsets)
@example(datetime(2024, 12, 24, 14, 4, 55, 21462, tzinfo=UTC), timedelta(0))
@example(datetime(2024, 12, 24, 3, 58, 12, 946000, tzinfo=UTC), timedelta(0))
def test_normalize_text_equals_normalize(value: datetime, offset: timedelta) -> None:
    for text in _forms(value, offset):
        parsed = timestamps.parse(text)
        assert timestamps.normalize_text(text, parsed) == timestamps.normalize(parsed), text
        assert timestamps.read(text) == (parsed, timestamps.normalize(parsed)), text
        assert timestamps.read(text) == (parsed, timestamps.normalize(parsed)), text


def test_odd_shapes_are_formatted() -> None:
    for text in (
        "2024-05-01T12:00:00.1234567Z",
        "2024-05-01",
        "2024-05-01T12:00Z",
        "20240501T120000Z",
        "2024-W18-3T12:00:00.000000Z",
        "2024-W18-3T12:00:00Z",
        "2024-W18-3T12:00:00.000Z",
        "2024-05-01 12:00:00.000Z",
    ):
        try:
            parsed = timestamps.parse(text)
        except ValueError:
            continue
        assert timestamps.normalize_text(text, parsed) == timestamps.normalize(parsed), text
        assert timestamps.read(text) == (parsed, timestamps.normalize(parsed)), text
