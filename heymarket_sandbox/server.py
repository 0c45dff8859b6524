"""HTTP server of the Heymarket sandbox (standard library only)."""

from __future__ import annotations

import base64
import binascii
import bisect
import contextlib
import hashlib
import hmac
import itertools
import json
import math
import os
import random
import socket
import threading
import time
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from . import config as cfgmod
from .data import Dataset, parse_date_ns

LIST_PATHS = {"/v1/contacts", "/v1/tags", "/v1/contact-fields", "/v1/inboxes"}
HTML_PAGE = (
    b"<!DOCTYPE html><html><head><title>Heymarket</title></head><body>"
    b"<h1>We'll be right back</h1><p>Scheduled maintenance.</p></body></html>"
)


class ApiError(Exception):
    def __init__(self, status: int, error: str, message: str) -> None:
        super().__init__(message)
        self.status, self.error, self.message = status, error, message


def _b64url_decode(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def make_jwt(
    secret_id: str = cfgmod.SECRET_ID, secret_key: str = cfgmod.SECRET_KEY, iat: float | None = None
) -> str:
    """A Heymarket JWT: HS256, {iss, iat}, key '<secret id>||<secret key>'."""

    def enc(obj: dict[str, Any]) -> str:
        raw = json.dumps(obj, separators=(",", ":")).encode()
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    head = enc({"alg": "HS256", "typ": "JWT"})
    body = enc({"iss": secret_id, "iat": int(time.time() if iat is None else iat)})
    sig = hmac.new(
        f"{secret_id}||{secret_key}".encode(), f"{head}.{body}".encode(), hashlib.sha256
    ).digest()
    return f"{head}.{body}.{base64.urlsafe_b64encode(sig).rstrip(b'=').decode()}"


class Stats:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        self.requests = 0
        self.by_path: dict[str, dict[str, int]] = {}
        self.by_status: dict[str, int] = {}
        self.list_requests = 0
        self.unauthorized = 0
        self.mutations = 0
        self.window: deque[float] = deque()
        self.peak_rate = 0

    def record(self, method: str, path: str, status: str, window: float) -> None:
        now = time.monotonic()
        with self.lock:
            self.requests += 1
            per = self.by_path.setdefault(path, {})
            per[status] = per.get(status, 0) + 1
            self.by_status[status] = self.by_status.get(status, 0) + 1
            if method == "POST" and path == "/v1/contacts":
                self.list_requests += 1
            if status == "401":
                self.unauthorized += 1
            self.window.append(now)
            while self.window and self.window[0] <= now - window:
                self.window.popleft()
            self.peak_rate = max(self.peak_rate, len(self.window))

    def snapshot(self) -> dict[str, Any]:
        with self.lock:
            return {
                "requests": self.requests,
                "by_path": {p: dict(v) for p, v in self.by_path.items()},
                "by_status": dict(self.by_status),
                "peak_rate": self.peak_rate,
                "list_requests": self.list_requests,
                "unauthorized": self.unauthorized,
                "mutations": self.mutations,
            }


class State:
    """Everything the handler threads share."""

    def __init__(self, switches: dict[str, Any]) -> None:
        self.lock = threading.RLock()
        self.config = cfgmod.validate(switches)
        self.data = Dataset(self.config["contacts"], self.config["seed"], self.config["precision"])
        self.stats = Stats()
        self._reset_bucket()
        self._reset_faults()
        self.list_counter = 0
        self._req_prefix = os.urandom(3).hex()
        self._req_counter = itertools.count(1)

    def request_id(self) -> str:
        return f"req_{self._req_prefix}{next(self._req_counter):08x}"

    def _reset_bucket(self) -> None:
        self.tokens = float(max(1, self.config["rate_limit"] // 10))
        self.bucket_time = time.monotonic()

    def _reset_faults(self) -> None:
        self.fault_rng = random.Random(self.config["fault_seed"])

    def configure(self, values: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            new = cfgmod.validate(values, self.config)
            old, self.config = self.config, new
            if any(new[k] != old[k] for k in cfgmod.REBUILD):
                self.data = Dataset(new["contacts"], new["seed"], new["precision"])
                self.list_counter = 0
            if any(k in values for k in ("rate_limit", "rate_window")):
                self._reset_bucket()
            if any(k.startswith("fault_") for k in values):
                self._reset_faults()
            return dict(new)

    def take_token(self) -> float | None:
        """None if the request may pass, else seconds until the next token."""
        with self.lock:
            limit = self.config["rate_limit"]
            if limit <= 0:
                return None
            rate = limit / self.config["rate_window"]
            cap = max(1, limit // 10)
            now = time.monotonic()
            self.tokens = min(cap, self.tokens + (now - self.bucket_time) * rate)
            self.bucket_time = now
            if self.tokens >= 1:
                self.tokens -= 1
                return None
            return (1 - self.tokens) / rate

    def draw_fault(self) -> tuple[str | None, float, float]:
        with self.lock:
            c = self.config
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

    def mutate(self, n: int, new: int) -> dict[str, Any]:
        with self.lock:
            updated, created = self.data.mutate(n, new)
        with self.stats.lock:
            self.stats.mutations += 1
        return {"updated_ids": updated, "created_ids": created}

    def check_auth(self, header: str | None) -> str | None:
        """None if authorized, else a reason (never containing the token)."""
        c = self.config
        if not header:
            return "missing Authorization header"
        scheme, _, token = header.strip().partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            return "Authorization must be 'Bearer <token>'"
        if c["api_key"] and hmac.compare_digest(token.encode(), c["api_key"].encode()):
            return None
        parts = token.split(".")
        if len(parts) != 3:
            return "invalid API key or malformed JWT"
        try:
            head = json.loads(_b64url_decode(parts[0]))
            payload = json.loads(_b64url_decode(parts[1]))
        except (ValueError, binascii.Error, UnicodeDecodeError):
            return "malformed JWT"
        if not isinstance(head, dict) or not isinstance(payload, dict):
            return "malformed JWT"
        if head.get("alg") != "HS256":
            return "JWT alg must be HS256"
        iss, iat = payload.get("iss"), payload.get("iat")
        if not isinstance(iss, str) or iss != c["secret_id"]:
            return "unknown JWT issuer"
        if isinstance(iat, bool) or not isinstance(iat, (int, float)):
            return "JWT iat missing or not a number"
        key = f"{c['secret_id']}||{c['secret_key']}".encode()
        sig = hmac.new(key, f"{parts[0]}.{parts[1]}".encode(), hashlib.sha256).digest()
        expected = base64.urlsafe_b64encode(sig).rstrip(b"=")
        if not hmac.compare_digest(expected, parts[2].rstrip("=").encode()):
            return "JWT signature mismatch"
        now = time.time() + c["clock_offset"]
        if now - iat > c["jwt_ttl"]:
            return "JWT expired"
        if iat - now > 60:
            return "JWT iat is in the future"
        return None


def _int_field(body: dict[str, Any], name: str, default: int | None) -> int | None:
    value = body.get(name)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int):
        raise ApiError(400, "bad_data", f"{name} must be an integer")
    return value


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "HeymarketSandbox/1.0"
    server: SandboxServer

    def log_message(self, format: str, *args: Any) -> None:
        if self.server.verbose:
            super().log_message(format, *args)

    # every verb goes through one dispatcher (http.server looks up do_<VERB>)
    def _any_verb(self) -> None:
        self._dispatch(self.command)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _any_verb

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """Protocol-level errors (bad request line, oversized headers...) as JSON too."""
        rid = self.server.state.request_id()
        self.close_connection = True
        if getattr(self, "request_version", "HTTP/0.9") == "HTTP/0.9":
            self.request_version = "HTTP/1.1"  # answer garbage with real headers, not HTTP/0.9
        if code == 501:  # an unknown HTTP method: "wrong method" is a 404 here
            code, message, error = 404, "no such method", "not_found"
        else:
            error = "bad_request" if code < 500 else "internal_error"
        body = json.dumps({"error": error, "message": message or "", "request_id": rid}).encode()
        try:
            self.send_response(code, message)
            self.send_header("X-Request-Id", rid)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Connection", "close")
            self.end_headers()
            if self.command != "HEAD" and code >= 200 and code not in (204, 304):
                self.wfile.write(body)
        except OSError:
            pass

    # ------------------------------------------------------------------ plumbing
    def _read_body(self) -> bytes:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            chunks: list[bytes] = []
            while True:
                line = self.rfile.readline(65537)
                size = int(line.split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline(65537)
        length = int(self.headers.get("Content-Length") or 0)
        if length < 0:
            raise ValueError("negative Content-Length")
        return self.rfile.read(length) if length else b""

    def _send(
        self,
        status: int,
        body: bytes,
        ctype: str = "application/json; charset=utf-8",
        extra: dict[str, str] | None = None,
    ) -> None:
        self.send_response(status)
        self.send_header("X-Request-Id", self.rid)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD" and status not in (204, 304):
            self.wfile.write(body)
        if self.api:
            cfg = self.server.state.config
            self.server.state.stats.record(
                self.command, self.route, str(status), cfg["rate_window"]
            )

    def _json(self, status: int, obj: Any, extra: dict[str, str] | None = None) -> None:
        self._send(
            status, json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode(), extra=extra
        )

    def _error(
        self, status: int, error: str, message: str, extra: dict[str, str] | None = None
    ) -> None:
        self._json(status, {"error": error, "message": message, "request_id": self.rid}, extra)

    def _dispatch(self, method: str) -> None:
        self.rid = self.server.state.request_id()
        split = urlsplit(self.path)
        self.route = split.path
        prefix = self.server.state.config["path_prefix"].rstrip("/")
        if prefix and self.route.startswith(prefix + "/"):
            # Served behind a gateway path, as in api_url = https://host/prefix.
            self.route = self.route[len(prefix) :]
        self.query = parse_qs(split.query)
        self.api = not self.route.startswith("/__sandbox/")
        try:
            raw = self._read_body()
        except ValueError:
            self.close_connection = True
            self._error(400, "bad_data", "unreadable request body")
            return
        try:
            if self.api:
                self._api(method, raw)
            else:
                self._control(method, raw)
        except ApiError as e:
            self._error(e.status, e.error, e.message)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        except Exception as e:  # a sandbox bug: still answer with JSON and a request id
            self.close_connection = True
            self.log_error("sandbox error: %r", e)
            with contextlib.suppress(OSError):
                self._error(500, "internal_error", f"sandbox error: {type(e).__name__}")

    # ------------------------------------------------------------------ control
    def _control(self, method: str, raw: bytes) -> None:
        state = self.server.state
        route = self.route.rstrip("/")
        if route == "/__sandbox/truth" and method == "GET":
            flag = (self.query.get("updated") or ["0"])[0].lower()
            with state.lock:
                obj = state.data.truth(flag in ("1", "true", "yes"))
            self._json(200, obj)
        elif route == "/__sandbox/stats" and method == "GET":
            self._json(200, state.stats.snapshot())
        elif route == "/__sandbox/reset_stats" and method == "POST":
            state.stats.reset()
            self._json(200, state.stats.snapshot())
        elif route == "/__sandbox/mutate" and method == "POST":
            body = _parse_body(raw)
            n = _int_field(body, "n", state.config["mutate_count"])
            new = _int_field(body, "new", state.config["create_count"])
            if n is None or new is None or n < 0 or new < 0:
                raise ApiError(400, "bad_data", "n and new must be integers >= 0")
            self._json(200, state.mutate(n, new))
        elif route == "/__sandbox/config" and method in ("GET", "POST"):
            if method == "GET":
                self._json(200, dict(state.config))
                return
            try:
                self._json(200, state.configure(_parse_body(raw)))
            except ValueError as e:
                raise ApiError(400, "bad_data", str(e)) from None
        elif route == "/__sandbox/health" and method == "GET":
            self._json(200, {"ok": True})
        else:
            raise ApiError(404, "not_found", f"no control endpoint {method} {self.route}")

    # ------------------------------------------------------------------ API
    def _api(self, method: str, raw: bytes) -> None:
        state = self.server.state
        cfg = state.config
        if cfg["latency_ms"]:
            time.sleep(cfg["latency_ms"] / 1000.0)
        if cfg["force_status"]:
            self._forced(cfg["force_status"])
            return
        wait = state.take_token()
        if wait is not None:
            extra = {}
            if cfg["retry_after"] == "auto":
                extra["Retry-After"] = str(max(1, math.ceil(wait)))
            elif cfg["retry_after"] is not None:
                extra["Retry-After"] = str(cfg["retry_after"])
            self._error(429, "rate_limited", "too many requests", extra)
            return
        fault, v, w = state.draw_fault()
        if fault == "drop":
            self.close_connection = True
            state.stats.record(method, self.route, "drop", cfg["rate_window"])
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)
            return
        if fault == "5xx":
            code = (500, 502, 503)[int(v * 3)]
            if w < 0.5:
                self._error(
                    code,
                    "internal_error" if code == 500 else "service_unavailable",
                    "upstream failure",
                )
            else:
                page = (
                    f"<html><head><title>{code}</title></head><body><center><h1>{code}"
                    f"</h1></center><hr><center>nginx</center></body></html>"
                ).encode()
                self._send(code, page, "text/html")
            return
        reason = state.check_auth(self.headers.get("Authorization"))
        if reason is not None:
            self._error(401, "unauthorized", reason)
            return
        status, obj = self._route(method, raw)
        body = _encode(obj)
        if status == 200 and fault == "truncate":
            self._send(200, body[: max(1, int(len(body) * (0.1 + 0.8 * v)))])
            return
        if status == 200 and cfg["force_body"] == "html":
            self._send(200, HTML_PAGE, "text/html; charset=utf-8")
            return
        if status == 200 and cfg["force_body"] == "object" and self.route in LIST_PATHS:
            body = b'{"data":' + body + b"}"
        if (
            status == 200
            and self.route == "/v1/contacts"
            and cfg["force_body"]
            in (
                "string_ids",
                "bad_updated",
            )
        ):
            body = _distort_contacts(body, cfg["force_body"])
        self._send(status, body)

    def _forced(self, code: int) -> None:
        errors = {
            400: ("bad_data", "invalid request"),
            401: ("unauthorized", "unauthorized"),
            403: ("forbidden", "access denied"),
            404: ("not_found", "not found"),
            429: ("rate_limited", "too many requests"),
        }
        error, message = errors.get(
            code, ("internal_error" if code >= 500 else "forced", f"forced status {code}")
        )
        self._error(code, error, message)

    def _route(self, method: str, raw: bytes) -> tuple[int, Any]:
        state = self.server.state
        route = self.route
        if method == "POST" and route == "/v1/contacts":
            body = _parse_body(raw)
            with state.lock:
                state.list_counter += 1
                every = state.config["mutate_every"]
                if every and state.list_counter % every == 0:
                    state.mutate(state.config["mutate_count"], state.config["create_count"])
                return 200, RawJson(self._list_contacts(body))
        if method == "POST" and route == "/v1/contacts/count":
            _parse_body(raw)
            return 200, {"count": len(state.data)}
        if method == "POST" and route == "/v1/contact-fields":
            _parse_body(raw)
            return 200, [dict(f) for f in state.data.fields]
        if method == "POST" and route == "/v1/tags":
            return 200, self._list_tags(_parse_body(raw))
        if method == "GET" and route == "/v1/inboxes":
            return 200, [dict(i) for i in state.data.inboxes]
        if method == "GET" and route == "/v1/team":
            d = state.data
            return 200, {
                "id": d.team_id,
                "name": "Sandbox Team ✨",
                "list_size": len(d),
                "members": [dict(m) for m in d.members],
            }
        raise ApiError(404, "not_found", f"no endpoint {method} {route}")

    def _paging(self, body: dict[str, Any], cap: int | None) -> tuple[int | None, int, int]:
        cfg = self.server.state.config
        limit = _int_field(body, "limit", 30)
        assert limit is not None
        if limit <= 0:
            raise ApiError(400, "bad_data", "limit must be a positive integer")
        mode = cfg["page"]
        page = None
        if mode != "ignore":  # "ignore": the field is not even validated
            page = _int_field(body, "page", None)
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

    def _list_contacts(self, body: dict[str, Any]) -> bytes:
        state = self.server.state
        date_ns, limit, offset = self._paging(body, None)
        data = state.data
        inclusive = state.config["cursor"] == "inclusive"
        return data.page_json(data.page(date_ns, inclusive, limit, offset))

    def _list_tags(self, body: dict[str, Any]) -> list[dict[str, Any]]:
        state = self.server.state
        date_ns, limit, offset = self._paging(body, 30)
        data = state.data
        times = data.tag_updated
        if date_ns is None:
            hi = len(times)
        elif state.config["cursor"] == "inclusive":
            hi = bisect.bisect_right(times, date_ns // 1000)
        else:
            hi = bisect.bisect_left(times, -(-date_ns // 1000))
        start = hi - 1 - offset
        stop = max(start - limit, -1)
        return [data.tag_object(data.tags[j]) for j in range(start, stop, -1)] if start >= 0 else []


class RawJson:
    """An already encoded JSON value."""

    def __init__(self, raw: bytes) -> None:
        self.raw = raw


def _distort_contacts(body: bytes, how: str) -> bytes:
    """Records with unexpected types, for the tap's record policy tests."""
    contacts = json.loads(body)
    if how == "string_ids":
        for contact in contacts:
            contact["id"] = str(contact["id"])
    elif contacts:
        contacts[0]["updated"] = "not-a-date"
    return _encode(contacts)


def _encode(obj: Any) -> bytes:
    if isinstance(obj, RawJson):
        return obj.raw
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode()


def _parse_body(raw: bytes) -> dict[str, Any]:
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise ApiError(400, "bad_data", "request body is not valid JSON") from None
    if not isinstance(body, dict):
        raise ApiError(400, "bad_data", "request body must be a JSON object")
    return body


class SandboxServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, port: int = 0, verbose: bool = False, **switches: Any) -> None:
        self.state = State(switches)
        self.verbose = verbose
        super().__init__(("127.0.0.1", port), Handler)

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        host = host.decode() if isinstance(host, bytes) else host
        return f"http://{host}:{port}"
