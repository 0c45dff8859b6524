"""HTTP server of the Heymarket sandbox (standard library only): parse, dispatch, write.

Per request: a request id, the path (less `path_prefix`), the body; then the control
endpoints (control.py) or, for the API, what faults.py admits, the route table
(api/routes.py) and what faults.py makes of the answer. Everything is answered as JSON with
an `X-Request-Id`, sandbox bugs too (docs/sandbox.md, "Layout").
"""

from __future__ import annotations

import contextlib
import json
import socket
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from .api.request import ApiError, Call, encode
from .api.routes import ROUTES
from .control import control
from .faults import Faults, Reply, finish
from .state import State

__all__ = ["Handler", "SandboxServer"]


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "HeymarketSandbox/1.0"
    # Small answers otherwise wait ~40 ms for the client's delayed ACK (Nagle's algorithm).
    disable_nagle_algorithm = True
    server: SandboxServer
    #: The request is in the stats already (each is counted once, before its answer).
    counted: bool

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
        # Counted before the first byte leaves: a client that has its answer can read
        # stats that include it.
        self._count(str(status))
        self.send_response(status)
        self.send_header("X-Request-Id", self.rid)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD" and status not in (204, 304):
            self.wfile.write(body)

    def _count(self, status: str) -> None:
        """Record an API request in the stats, once (control requests are not counted)."""
        if self.api and not self.counted:
            self.counted = True
            state = self.server.state
            state.stats.record(self.command, self.route, status, state.config["rate_window"])

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
        self.counted = False
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
                server = self.server
                answer = control(server.state, server.faults, method, self.route, self.query, raw)
                self._send(200, encode(answer))
        except ApiError as e:
            self._error(e.status, e.error, e.message)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        except Exception as e:  # a sandbox bug: still answer with JSON and a request id
            self.close_connection = True
            self.log_error("sandbox error: %r", e)
            with contextlib.suppress(OSError):
                self._error(500, "internal_error", f"sandbox error: {type(e).__name__}")

    # ------------------------------------------------------------------ API
    def _api(self, method: str, raw: bytes) -> None:
        faults = self.server.faults
        admission = faults.admit(self.headers.get("Authorization"))
        if isinstance(admission, Reply):
            self._reply(admission)
            return
        status, obj = self._route(method, raw)
        self._reply(finish(admission, self.route, status, encode(obj)))

    def _reply(self, reply: Reply) -> None:
        if reply.drop:
            self.close_connection = True
            self._count("drop")
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)
        elif reply.error is not None:
            self._error(reply.status, reply.error, reply.message, dict(reply.headers))
        else:
            self._send(reply.status, reply.body, reply.ctype)

    def _route(self, method: str, raw: bytes) -> tuple[int, Any]:
        route = ROUTES.get((method, self.route))
        if route is None:
            raise ApiError(404, "not_found", f"no endpoint {method} {self.route}")
        return 200, route.handler(Call(self.server.state, raw))


class SandboxServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, port: int = 0, verbose: bool = False, **switches: Any) -> None:
        self.state = State(switches)
        self.faults = Faults(self.state)
        self.verbose = verbose
        super().__init__(("127.0.0.1", port), Handler)

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        host = host.decode() if isinstance(host, bytes) else host
        return f"http://{host}:{port}"
