"""What the handler threads share: the configuration, the data (`World`), the request ids
and the stats, under one lock. The rate limiter, the fault generator and `fail_after` are
faults.py's; the HTTP is server.py's (docs/sandbox.md, "Layout")."""

from __future__ import annotations

import itertools
import os
import threading
import time
from collections import deque
from typing import Any

from .config import validate
from .data.mutation import Mutation
from .data.truth import truth
from .data.world import World


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
    def __init__(self, switches: dict[str, Any]) -> None:
        self.lock = threading.RLock()
        self.config = validate(switches)
        self.world = World(self.config)
        self.stats = Stats()
        self.list_counter = 0
        self._req_prefix = os.urandom(3).hex()
        self._req_counter = itertools.count(1)

    def request_id(self) -> str:
        return f"req_{self._req_prefix}{next(self._req_counter):08x}"

    def configure(self, values: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            new = validate(values, self.config)
            old, self.config = self.config, new
            if new["seed"] != old["seed"] or new["precision"] != old["precision"]:
                self.world = World(new)
                self.list_counter = 0
            elif "contacts" in self.world.reconfigure(old, new):
                self.list_counter = 0
            return dict(new)

    def mutate(self, mutation: Mutation) -> dict[str, list[int]]:
        """Apply one mutation to the data (World.mutate) and count it in the stats."""
        with self.lock:
            out = self.world.mutate(mutation)
        with self.stats.lock:
            self.stats.mutations += 1
        return out

    def delete(self, stream: str, n: int | None, ids: list[int] | None = None) -> list[int]:
        """Hard-delete records of a stream (see data/deletes.py)."""
        with self.lock:
            return self.world.delete(stream, n, ids)

    def truth(
        self, with_updated: bool, *, custom: bool = False, status: bool = False
    ) -> dict[str, Any]:
        with self.lock:
            return truth(self.world, self.config, with_updated, custom=custom, status=status)
