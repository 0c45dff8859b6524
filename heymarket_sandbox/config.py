"""Switches of the Heymarket sandbox: one table drives the CLI, Sandbox() and /__sandbox/config."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

SECRET_ID = "sandbox-secret-id"
SECRET_KEY = "sandbox-secret-key"
API_KEY = "sandbox-api-key"


@dataclass(frozen=True)
class Switch:
    name: str
    kind: str  # int | float | choice | str | retry_after
    default: Any
    help: str
    choices: tuple[str, ...] = ()
    minimum: float | None = None
    maximum: float | None = None

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")


SWITCHES: dict[str, Switch] = {
    s.name: s
    for s in (
        Switch("contacts", "int", 1000, "number of contacts generated", minimum=0),
        Switch("seed", "int", 1, "data seed: same seed, same data"),
        Switch(
            "cursor",
            "choice",
            "strict",
            "meaning of `date`: strict = updated < date, inclusive = updated <= date",
            choices=("strict", "inclusive"),
        ),
        Switch(
            "precision",
            "choice",
            "millis",
            "timestamp precision: seconds (…:56Z) or millis (…:56.789Z)",
            choices=("seconds", "millis"),
        ),
        Switch(
            "date_precision",
            "choice",
            "exact",
            "how the request's `date` is read: exact, or truncated to millis or seconds",
            choices=("exact", "millis", "seconds"),
        ),
        Switch(
            "max_limit",
            "int",
            0,
            "silently clamp `limit` to this (0 = no clamp); a short page is then not the last",
            minimum=0,
        ),
        Switch(
            "page",
            "choice",
            "ignore",
            "body `page`: ignore, zero (offset page*limit) or one (offset (page-1)*limit)",
            choices=("ignore", "zero", "one"),
        ),
        Switch(
            "rate_limit", "int", 0, "requests per rate_window (token bucket, 0 = off)", minimum=0
        ),
        Switch("rate_window", "float", 60.0, "rate-limit window in seconds", minimum=0.001),
        Switch(
            "retry_after",
            "retry_after",
            None,
            "Retry-After header on 429: off, a number of seconds, or auto",
        ),
        Switch("latency_ms", "float", 0.0, "latency added to every API request (ms)", minimum=0),
        Switch("fault_seed", "int", 0, "seed of the fault generator"),
        Switch(
            "fault_5xx",
            "float",
            0.0,
            "fraction of API requests answered 500/502/503",
            minimum=0,
            maximum=1,
        ),
        Switch(
            "fault_truncate",
            "float",
            0.0,
            "fraction answered 200 with a truncated JSON body",
            minimum=0,
            maximum=1,
        ),
        Switch(
            "fault_drop",
            "float",
            0.0,
            "fraction whose connection is closed without an answer",
            minimum=0,
            maximum=1,
        ),
        Switch(
            "force_status",
            "int",
            0,
            "answer every API request with this status (0 = off)",
            minimum=0,
            maximum=599,
        ),
        Switch(
            "force_body",
            "choice",
            "",
            "'' off; html = 200 with an HTML page; object = {\"data\": [...]} instead of an "
            "array; string_ids = contact ids as digit strings; bad_updated = the first contact "
            "of each contacts answer has updated='not-a-date'",
            choices=("", "html", "object", "string_ids", "bad_updated"),
        ),
        Switch(
            "mutate_every",
            "int",
            0,
            "mutate before every K-th POST /v1/contacts (0 = off)",
            minimum=0,
        ),
        Switch("mutate_count", "int", 5, "contacts changed by each mutation", minimum=0),
        Switch("create_count", "int", 1, "contacts created by each mutation", minimum=0),
        Switch("jwt_ttl", "float", 300.0, "JWT lifetime in seconds after iat", minimum=0),
        Switch(
            "clock_offset",
            "float",
            0.0,
            "seconds added to the server clock for the JWT check (simulates skew)",
        ),
        Switch("path_prefix", "str", "", "also serve the API under this path prefix (e.g. /hm)"),
        Switch("secret_id", "str", SECRET_ID, "accepted API Secret ID (JWT iss)"),
        Switch("secret_key", "str", SECRET_KEY, "API Secret Key of secret_id"),
        Switch("api_key", "str", API_KEY, "accepted legacy API key ('' disables legacy auth)"),
    )
}

# Changing one of these rebuilds the data set (mutations are lost).
REBUILD = frozenset({"contacts", "seed", "precision"})


def defaults() -> dict[str, Any]:
    return {name: s.default for name, s in SWITCHES.items()}


def coerce(name: str, value: Any) -> Any:
    """Validate one switch value (a Python value or a CLI string); raise ValueError."""
    sw = SWITCHES.get(name)
    if sw is None:
        raise ValueError(f"unknown switch {name!r}")
    if sw.kind == "retry_after":
        if value is None or (
            isinstance(value, str) and value.strip().lower() in ("", "off", "none")
        ):
            return None
        if isinstance(value, str) and value.strip().lower() == "auto":
            return "auto"
        out = _number(name, value, float)
        if out < 0:
            raise ValueError(f"{name} must be >= 0")
        return int(out) if out == int(out) else out
    if sw.kind == "choice":
        if value is None or (
            isinstance(value, str) and value.lower() in ("off", "none") and "" in sw.choices
        ):
            value = ""
        if not isinstance(value, str) or value not in sw.choices:
            raise ValueError(f"{name} must be one of {list(sw.choices)}")
        return value
    if sw.kind == "str":
        if not isinstance(value, str):
            raise ValueError(f"{name} must be a string")
        return value
    out = _number(name, value, int if sw.kind == "int" else float)
    if sw.minimum is not None and out < sw.minimum:
        raise ValueError(f"{name} must be >= {sw.minimum}")
    if sw.maximum is not None and out > sw.maximum:
        raise ValueError(f"{name} must be <= {sw.maximum}")
    if name == "force_status" and out and out < 200:
        raise ValueError("force_status must be 0 or 200..599")
    return out


def _number(name: str, value: Any, kind: type) -> Any:
    if isinstance(value, bool):
        raise ValueError(f"{name} must be a number")
    if isinstance(value, str):
        try:
            value = kind(value.strip()) if kind is int else float(value.strip())
        except ValueError:
            raise ValueError(f"{name} must be a number") from None
    if kind is int:
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if not isinstance(value, int):
            raise ValueError(f"{name} must be an integer")
        return value
    if not isinstance(value, (int, float)):
        raise ValueError(f"{name} must be a number")
    return float(value)


def validate(values: dict[str, Any], base: dict[str, Any] | None = None) -> dict[str, Any]:
    """Return base (or the defaults) updated with the coerced values; check cross-field rules."""
    out = dict(base if base is not None else defaults())
    for name, value in values.items():
        out[name] = coerce(name, value)
    if out["fault_5xx"] + out["fault_truncate"] + out["fault_drop"] > 1.0 + 1e-9:
        raise ValueError("fault_5xx + fault_truncate + fault_drop must be <= 1")
    return out
