"""Timestamps of the sandbox: integer microseconds, RFC 3339 in and out."""

from __future__ import annotations

import calendar
import re
import time
from collections.abc import Callable

US = 1_000_000
START_US = calendar.timegm((2023, 1, 1, 0, 0, 0)) * US
END_US = calendar.timegm((2026, 6, 1, 0, 0, 0)) * US
SPAN_US = END_US - START_US

_DATE_RE = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?"
    r"(?:([Zz])|([+-])(\d{2}):(\d{2}))"
)


def parse_date_ns(text: str) -> int:
    """RFC 3339 → integer nanoseconds since the epoch (exact). ValueError if unparsable."""
    m = _DATE_RE.fullmatch(text)
    if not m:
        raise ValueError(f"unparsable date {text!r}")
    y, mo, d, h, mi, s = (int(m.group(i)) for i in range(1, 7))
    if not (
        1 <= mo <= 12 and 1 <= d <= calendar.monthrange(y, mo)[1] and h < 24 and mi < 60 and s < 60
    ):
        raise ValueError(f"date out of range {text!r}")
    frac = m.group(7) or ""
    ns = calendar.timegm((y, mo, d, h, mi, s)) * 1_000_000_000 + int(frac.ljust(9, "0") or 0)
    if m.group(9):
        oh, om = int(m.group(10)), int(m.group(11))
        if oh > 23 or om > 59:
            raise ValueError(f"bad offset {text!r}")
        off = (oh * 60 + om) * 60 * 1_000_000_000
        ns = ns - off if m.group(9) == "+" else ns + off
    return ns


_DAYS: dict[int, str] = {}
_HMS = [f"{h:02d}:{m:02d}:{sec:02d}" for h in range(24) for m in range(60) for sec in range(60)]
_MS = [f".{ms:03d}Z" for ms in range(1000)]


def fmt(us: int, millis: bool) -> str:
    """Integer microseconds → RFC 3339 UTC ('Z'), seconds or milliseconds."""
    secs, frac = divmod(us, US)
    days, rem = divmod(secs, 86400)
    day = _DAYS.get(days)
    if day is None:
        t = time.gmtime(days * 86400)
        day = _DAYS[days] = f"{t.tm_year:04d}-{t.tm_mon:02d}-{t.tm_mday:02d}T"
    if millis:
        return day + _HMS[rem] + _MS[frac // 1000]
    return day + _HMS[rem] + "Z"


class Clock:
    """The `precision` switch: what a stored timestamp is truncated to and how it is shown."""

    def __init__(self, precision: str) -> None:
        self.millis = precision == "millis"
        self.unit = 1000 if self.millis else US

    def trunc(self, us: int) -> int:
        return us - us % self.unit

    def fmt(self, us: int) -> str:
        return fmt(us, self.millis)

    def fresh(self, last: int | None) -> Callable[[], int]:
        """Timestamps for one mutation batch, each later than `last` (the current maximum).

        max(now truncated to the precision, previous + 1 unit): with millis every call gives
        a distinct, increasing stamp; with seconds the whole batch shares one (a real tie).
        """
        previous = START_US - self.unit if last is None else last
        stamp: int | None = None

        def next_stamp() -> int:
            nonlocal stamp
            now = self.trunc(time.time_ns() // 1000)
            if stamp is None or self.millis:
                stamp = max(now, (stamp if stamp is not None else previous) + self.unit)
            return stamp

        return next_stamp
