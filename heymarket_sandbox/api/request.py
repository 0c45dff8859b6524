"""What every handler shares: the API error, request bodies, `Call` (one authorized request),
`Route` (one row of the route table) and the parsing of the date-cursor paging fields."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..timefmt import parse_date_ns

if TYPE_CHECKING:
    from ..data.world import World
    from ..state import State


class ApiError(Exception):
    def __init__(self, status: int, error: str, message: str) -> None:
        super().__init__(message)
        self.status, self.error, self.message = status, error, message


class RawJson:
    """An already encoded JSON value."""

    def __init__(self, raw: bytes) -> None:
        self.raw = raw


def encode(obj: Any) -> bytes:
    if isinstance(obj, RawJson):
        return obj.raw
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode()


def parse_body(raw: bytes) -> dict[str, Any]:
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise ApiError(400, "bad_data", "request body is not valid JSON") from None
    if not isinstance(body, dict):
        raise ApiError(400, "bad_data", "request body must be a JSON object")
    return body


def int_field(body: dict[str, Any], name: str, default: int | None) -> int | None:
    value = body.get(name)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int):
        raise ApiError(400, "bad_data", f"{name} must be an integer")
    return value


def limit_field(body: dict[str, Any], default: int) -> int:
    limit = int_field(body, "limit", default)
    assert limit is not None
    if limit <= 0:
        raise ApiError(400, "bad_data", "limit must be a positive integer")
    return limit


@dataclass
class Call:
    """One authorized API request, as a resource handler sees it."""

    state: State
    raw: bytes

    @property
    def config(self) -> dict[str, Any]:
        return self.state.config

    @property
    def world(self) -> World:
        return self.state.world

    def body(self) -> dict[str, Any]:
        return parse_body(self.raw)


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    handler: Callable[[Call], Any]
    #: the answer is a bare array (force_body=object wraps it in {"data": [...]})
    is_list: bool = False


def paging(
    body: dict[str, Any], cfg: dict[str, Any], cap: int | None
) -> tuple[int | None, int, int]:
    """(date in ns or None, limit, offset) of a date-cursor list request.

    `limit` (default 30) is clamped to `cap` and to the max_limit switch; `page` is read
    per the page switch; `date` is parsed exactly, then truncated per date_precision.
    """
    limit = limit_field(body, 30)
    mode = cfg["page"]
    page = None
    if mode != "ignore":  # "ignore": the field is not even validated
        page = int_field(body, "page", None)
        if page is not None and page < 0:
            raise ApiError(400, "bad_data", "page must be >= 0")
    date = body.get("date")
    date_ns = None
    if date is not None:
        if not isinstance(date, str):
            raise ApiError(400, "bad_data", "date must be an RFC 3339 string")
        try:
            date_ns = parse_date_ns(date)
        except ValueError as e:
            raise ApiError(400, "bad_data", str(e)) from None
        # A server that stores times at a coarser precision than it is sent (a JS
        # Date, DATETIME(3)) truncates the cursor before comparing.
        unit = {"millis": 1_000_000, "seconds": 1_000_000_000}.get(cfg["date_precision"])
        if unit:
            date_ns -= date_ns % unit
    if cap is not None:
        limit = min(limit, cap)
    if cfg["max_limit"]:
        limit = min(limit, cfg["max_limit"])
    offset = 0
    if mode == "zero" and page:
        offset = page * limit
    elif mode == "one" and page and page > 1:
        offset = (page - 1) * limit
    return date_ns, limit, offset
