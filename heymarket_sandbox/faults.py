"""What the server applies around every API request (docs/sandbox.md, "Switches").

Before the handler, in this order (`Faults.admit`): `latency_ms`; `force_status`;
`fail_after` (503 once the countdown is spent); the rate limit (a token bucket: 429 with
`Retry-After` per `retry_after`); one draw of the fault generator (`fault_drop`: the
connection is closed without an answer; `fault_5xx`: 500/502/503 as JSON or as an nginx
page; `fault_truncate`: remembered for later); the auth check (401). After the handler's
200 (`finish`): `shapes`, the truncation drawn before, then `force_body` (an HTML page, the
list wrapped in {"data": ...}, contact ids as strings, a bad `updated`).

`Faults` holds the mutable parts (the token bucket, the fault generator, `fail_after`'s
countdown) under the state's lock, as the data is; control.py resets them when the switches
that drive them change. The server turns each `Reply` into HTTP.
"""

from __future__ import annotations

import json
import math
import random
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .api.request import encode
from .api.routes import LIST_PATHS
from .auth import check_auth
from .shapes import apply as apply_shapes
from .state import State

JSON_TYPE = "application/json; charset=utf-8"
HTML_PAGE = (
    b"<!DOCTYPE html><html><head><title>Heymarket</title></head><body>"
    b"<h1>We'll be right back</h1><p>Scheduled maintenance.</p></body></html>"
)
#: force_status codes with their own error and message (others: internal_error or forced)
FORCED_ERRORS = {
    400: ("bad_data", "invalid request"),
    401: ("unauthorized", "unauthorized"),
    403: ("forbidden", "access denied"),
    404: ("not_found", "not found"),
    429: ("rate_limited", "too many requests"),
}


@dataclass(frozen=True)
class Reply:
    """What the server writes: a body, an error answer, or nothing at all (`drop`)."""

    status: int
    body: bytes = b""
    ctype: str = JSON_TYPE
    #: an error answer {"error", "message", "request_id"}; the server adds its request id
    error: str | None = None
    message: str = ""
    headers: Mapping[str, str] = field(default_factory=dict)
    #: close the connection without an answer
    drop: bool = False


@dataclass(frozen=True)
class Admission:
    """A request let through to its handler: the configuration it was admitted under and
    the fault drawn for it (only `truncate` still matters: `finish` applies it)."""

    config: dict[str, Any]
    fault: str | None
    v: float


def forced(code: int) -> Reply:
    """The error answer of `force_status` (and of `fail_after`: 503)."""
    error, message = FORCED_ERRORS.get(
        code, ("internal_error" if code >= 500 else "forced", f"forced status {code}")
    )
    return Reply(code, error=error, message=message)


class Faults:
    """The rate limiter, the fault generator and the `fail_after` countdown of one server."""

    def __init__(self, state: State) -> None:
        self.state = state
        with state.lock:
            self._reset_bucket()
            self._reset_rng()
            self.fail_countdown: int | None = state.config["fail_after"] or None

    def _reset_bucket(self) -> None:
        self.tokens = float(max(1, self.state.config["rate_limit"] // 10))
        self.bucket_time = time.monotonic()

    def _reset_rng(self) -> None:
        self.fault_rng = random.Random(self.state.config["fault_seed"])

    def reconfigure(self, values: Mapping[str, Any]) -> None:
        """After State.configure(values): restart what the switches set in `values` drive."""
        with self.state.lock:
            if any(k in values for k in ("rate_limit", "rate_window")):
                self._reset_bucket()
            if any(k.startswith("fault_") for k in values):
                self._reset_rng()
            if "fail_after" in values:
                self.fail_countdown = self.state.config["fail_after"] or None

    def failing(self) -> bool:
        """True once `fail_after` API requests were answered since it was set."""
        with self.state.lock:
            if self.fail_countdown is None:
                return False
            if self.fail_countdown == 0:
                return True
            self.fail_countdown -= 1
            return False

    def take_token(self) -> float | None:
        """None if the request may pass, else seconds until the next token."""
        with self.state.lock:
            config = self.state.config
            limit = config["rate_limit"]
            if limit <= 0:
                return None
            rate = limit / config["rate_window"]
            cap = max(1, limit // 10)
            now = time.monotonic()
            self.tokens = min(cap, self.tokens + (now - self.bucket_time) * rate)
            self.bucket_time = now
            if self.tokens >= 1:
                self.tokens -= 1
                return None
            return (1 - self.tokens) / rate

    def draw(self) -> tuple[str | None, float, float]:
        """(fault or None, v, w): one draw of the fault generator for one request."""
        with self.state.lock:
            c = self.state.config
            r = self.fault_rng
            u, v, w = r.random(), r.random(), r.random()
            if u < c["fault_5xx"]:
                return "5xx", v, w
            u -= c["fault_5xx"]
            if u < c["fault_truncate"]:
                return "truncate", v, w
            u -= c["fault_truncate"]
            if u < c["fault_drop"]:
                return "drop", v, w
            return None, v, w

    def admit(self, authorization: str | None) -> Reply | Admission:
        """Everything before the handler: a Reply to send instead, or the Admission."""
        cfg = self.state.config
        if cfg["latency_ms"]:
            time.sleep(cfg["latency_ms"] / 1000.0)
        if cfg["force_status"]:
            return forced(cfg["force_status"])
        if self.failing():
            return forced(503)
        wait = self.take_token()
        if wait is not None:
            extra = {}
            if cfg["retry_after"] == "auto":
                extra["Retry-After"] = str(max(1, math.ceil(wait)))
            elif cfg["retry_after"] is not None:
                extra["Retry-After"] = str(cfg["retry_after"])
            return Reply(429, error="rate_limited", message="too many requests", headers=extra)
        fault, v, w = self.draw()
        if fault == "drop":
            return Reply(0, drop=True)
        if fault == "5xx":
            code = (500, 502, 503)[int(v * 3)]
            if w < 0.5:
                error = "internal_error" if code == 500 else "service_unavailable"
                return Reply(code, error=error, message="upstream failure")
            page = (
                f"<html><head><title>{code}</title></head><body><center><h1>{code}"
                f"</h1></center><hr><center>nginx</center></body></html>"
            ).encode()
            return Reply(code, page, "text/html")
        reason = check_auth(self.state.config, authorization)
        if reason is not None:
            return Reply(401, error="unauthorized", message=reason)
        return Admission(cfg, fault, v)


def finish(admission: Admission, route: str, status: int, body: bytes) -> Reply:
    """Everything after the handler, on its encoded answer `body` of `route`."""
    cfg = admission.config
    if status == 200 and cfg["shapes"]:  # off: this one test is all it costs
        body = apply_shapes(body, route, cfg["shapes"], cfg["seed"])
    if status == 200 and admission.fault == "truncate":
        return Reply(200, body[: max(1, int(len(body) * (0.1 + 0.8 * admission.v)))])
    if status == 200 and cfg["force_body"] == "html":
        return Reply(200, HTML_PAGE, "text/html; charset=utf-8")
    if status == 200 and cfg["force_body"] == "object" and route in LIST_PATHS:
        body = b'{"data":' + body + b"}"
    distort = cfg["force_body"] in ("string_ids", "bad_updated")
    if status == 200 and distort and route == "/v1/contacts":
        body = distort_contacts(body, cfg["force_body"])
    return Reply(status, body)


def distort_contacts(body: bytes, how: str) -> bytes:
    """Records with unexpected types, for the tap's record policy tests."""
    contacts = json.loads(body)
    if how == "string_ids":
        for contact in contacts:
            contact["id"] = str(contact["id"])
    elif contacts:
        contacts[0]["updated"] = "not-a-date"
    return encode(contacts)
