"""`Sandbox`: the sandbox's lifecycle for tests and scripts, in a background thread (default)
or as a subprocess (`process=True`), with helpers for auth and the control endpoints.

    with Sandbox(contacts=500, seed=1, cursor="strict") as sb:
        requests.post(sb.url + "/v1/contacts", json={"limit": 100}, headers=sb.auth_headers())

See docs/sandbox.md, "Starting it".
"""

from __future__ import annotations

import json
import queue
import signal
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from .auth import make_jwt
from .config import API_KEY, SWITCHES, defaults, validate
from .server import SandboxServer

__all__ = ["Sandbox"]


class Sandbox:
    """Run the sandbox in a background thread (default) or as a subprocess (process=True)."""

    def __init__(
        self,
        *,
        process: bool = False,
        port: int = 0,
        ready_timeout: float = 120.0,
        log: Path | None = None,
        **switches: Any,
    ) -> None:
        validate(switches)  # fail fast on unknown switches or bad values
        self.process = process
        self.port = port
        self.ready_timeout = ready_timeout
        self.switches = dict(switches)
        #: process=True: the server's stderr (request log, tracebacks) goes to this file.
        self.log = log
        self.server: SandboxServer | None = None
        self._thread: threading.Thread | None = None
        self._proc: subprocess.Popen[str] | None = None
        self._url: str | None = None
        self._opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))

    # ------------------------------------------------------------------ lifecycle
    def __enter__(self) -> Sandbox:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> Sandbox:
        if self._url is not None:
            return self
        if self.process:
            self._start_process()
        else:
            self.server = SandboxServer(port=self.port, **self.switches)
            self._thread = threading.Thread(
                target=self.server.serve_forever,
                kwargs={"poll_interval": 0.1},
                name="heymarket-sandbox",
                daemon=True,
            )
            self._thread.start()
            self._url = self.server.url
        return self

    def _start_process(self) -> None:
        cmd = [sys.executable, "-m", "heymarket_sandbox", "--port", str(self.port)]
        for name, value in self.switches.items():
            cmd += [SWITCHES[name].flag, "off" if value is None else str(value)]
        stderr = self.log.open("ab") if self.log is not None else None
        try:
            proc = subprocess.Popen(
                cmd, stdout=subprocess.PIPE, stderr=stderr, stdin=subprocess.DEVNULL, text=True
            )
        finally:
            if stderr is not None:
                stderr.close()
        self._proc = proc
        lines: queue.Queue[str] = queue.Queue()
        assert proc.stdout is not None
        stdout = proc.stdout

        def reader() -> None:
            lines.put(stdout.readline())

        threading.Thread(target=reader, daemon=True).start()
        try:
            line = lines.get(timeout=self.ready_timeout)
        except queue.Empty:
            self.stop()
            raise RuntimeError("sandbox process did not become ready") from None
        if not line.startswith("SANDBOX_URL="):
            self.stop()
            raise RuntimeError(f"sandbox process failed to start: {line!r}")
        self._url = line.strip().split("=", 1)[1]

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            if self._thread is not None:
                self._thread.join(5)
            self.server = None
            self._thread = None
        if self._proc is not None:
            proc = self._proc
            self._proc = None
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(15)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
            if proc.stdout is not None:
                proc.stdout.close()
        self._url = None

    @property
    def url(self) -> str:
        if self._url is None:
            raise RuntimeError("sandbox is not running")
        return self._url

    # ------------------------------------------------------------------ auth helpers
    def jwt(self, iat: float | None = None) -> str:
        cfg = {**defaults(), **self.switches}
        return make_jwt(cfg["secret_id"], cfg["secret_key"], iat)

    def auth_headers(self, legacy: bool = False) -> dict[str, str]:
        if legacy:
            return {"Authorization": f"Bearer {self.switches.get('api_key', API_KEY)}"}
        return {"Authorization": f"Bearer {self.jwt()}"}

    # ------------------------------------------------------------------ control API
    def _control(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(
            self.url + path, data=data, method=method, headers={"Content-Type": "application/json"}
        )
        try:
            with self._opener.open(req, timeout=120) as resp:
                return json.loads(resp.read())
        except urllib.error.HTTPError as e:
            detail = e.read().decode("utf-8", "replace")
            e.close()
            raise ValueError(f"sandbox {path}: {e.code} {detail}") from None

    def truth(
        self, updated: bool = False, *, custom: bool = False, status: bool = False
    ) -> dict[str, Any]:
        """GET /__sandbox/truth; `custom` / `status` add every contact's custom map /
        status answer (slow on large data sets: see docs/sandbox.md)."""
        flags = [
            name
            for name, on in (("updated", updated), ("custom", custom), ("status", status))
            if on
        ]
        query = "&".join(f"{name}=1" for name in flags)
        return self._control("GET", "/__sandbox/truth" + (f"?{query}" if query else ""))

    def stats(self) -> dict[str, Any]:
        return self._control("GET", "/__sandbox/stats")

    def reset_stats(self) -> None:
        self._control("POST", "/__sandbox/reset_stats", {})

    def mutate(
        self,
        *,
        n: int | None = None,
        new: int | None = None,
        templates: int | None = None,
        messages: int | None = None,
        new_messages: int | None = None,
        message_ids: list[int] | None = None,
        fields: int | None = None,
        conversations: int | None = None,
        new_conversations: int | None = None,
        rewrite_ids: list[int] | None = None,
    ) -> dict[str, list[int]]:
        """One `POST /__sandbox/mutate` (control.py makes it a data.mutation.Mutation).

        Edit n contacts, create `new` ones, edit `templates` templates (None: the
        mutate_count / create_count / mutate_templates switches); change the status of
        `messages` random messages and of `message_ids`, send `new_messages` (None: the
        mutate_messages / create_messages switches).

        `fields`: rename that many contact fields (`<title> (renamed <n>)`).
        `conversations` / `new_conversations`: reopen, close or touch that many
        conversations / open that many new ones (None: the mutate_conversations /
        create_conversations switches); then "conversation_ids" and
        "created_conversation_ids" are in the answer.

        `rewrite_ids`: write these contacts again within their `updated`'s clock unit (a new
        rev, the same `updated`); then "rewritten_ids" is in the answer.

        Returns {"updated_ids", "created_ids", "template_ids"}, plus "message_ids" and
        "created_message_ids" when messages changed, "field_ids" when fields were renamed."""
        pairs = (
            ("n", n),
            ("new", new),
            ("templates", templates),
            ("messages", messages),
            ("new_messages", new_messages),
            ("message_ids", message_ids),
            ("fields", fields),
            ("conversations", conversations),
            ("new_conversations", new_conversations),
            ("rewrite_ids", rewrite_ids),
        )
        body = {k: v for k, v in pairs if v is not None}
        return self._control("POST", "/__sandbox/mutate", body)

    def delete(
        self, stream: str, n: int | None = None, *, ids: list[int] | None = None
    ) -> list[int]:
        """Hard-delete `n` random records of `stream` ("contacts", "tags" or "templates"), or
        those of `ids`; return the ids deleted (`POST /__sandbox/delete`)."""
        body: dict[str, Any] = {"stream": stream}
        if ids is not None:
            body["ids"] = ids
        else:
            body["n"] = n
        return list(self._control("POST", "/__sandbox/delete", body)["deleted_ids"])

    def configure(self, **switches: Any) -> dict[str, Any]:
        out = self._control("POST", "/__sandbox/config", switches)
        self.switches.update(switches)
        return out

    def config(self) -> dict[str, Any]:
        return self._control("GET", "/__sandbox/config")

    def shapes(self) -> dict[str, Any]:
        """GET /__sandbox/shapes: {"cases": every case of the `shapes` switch, "active": those
        on now, "time_forms": the forms of `time_forms`}."""
        return self._control("GET", "/__sandbox/shapes")
