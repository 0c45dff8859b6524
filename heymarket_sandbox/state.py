"""What the handler threads share: configuration, data, rate limiter, faults, stats."""

from __future__ import annotations

import itertools
import os
import random
import threading
import time
from collections import deque
from typing import Any

from . import config as cfgmod
from .auth import check_auth
from .world import World


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
        self.config = cfgmod.validate(switches)
        self.world = World(self.config)
        self.stats = Stats()
        self._reset_bucket()
        self._reset_faults()
        self.fail_countdown: int | None = self.config["fail_after"] or None
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
            if new["seed"] != old["seed"] or new["precision"] != old["precision"]:
                self.world = World(new)
                self.list_counter = 0
            elif "contacts" in self.world.reconfigure(old, new):
                self.list_counter = 0
            if any(k in values for k in ("rate_limit", "rate_window")):
                self._reset_bucket()
            if any(k.startswith("fault_") for k in values):
                self._reset_faults()
            if "fail_after" in values:
                self.fail_countdown = new["fail_after"] or None
            return dict(new)

    def failing(self) -> bool:
        """True once `fail_after` API requests were answered since it was set."""
        with self.lock:
            if self.fail_countdown is None:
                return False
            if self.fail_countdown == 0:
                return True
            self.fail_countdown -= 1
            return False

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

    def mutate(self, n: int, new: int, templates: int = 0, **messages: Any) -> dict[str, Any]:
        """`messages`: World.mutate's `messages`, `new_messages` and `message_ids`."""
        with self.lock:
            out = self.world.mutate(n, new, templates, **messages)
        with self.stats.lock:
            self.stats.mutations += 1
        return out

    def delete(self, stream: str, n: int | None, ids: list[int] | None = None) -> list[int]:
        """Hard-delete records of a stream (see deletes.py)."""
        with self.lock:
            return self.world.delete(stream, n, ids)

    def truth(
        self, with_updated: bool, *, custom: bool = False, status: bool = False
    ) -> dict[str, Any]:
        with self.lock:
            return self.world.truth(self.config, with_updated, custom=custom, status=status)

    def check_auth(self, header: str | None) -> str | None:
        """None if authorized, else a reason (never containing the token)."""
        return check_auth(self.config, header)
