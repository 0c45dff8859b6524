"""Switches of the Heymarket sandbox: one table drives the CLI, Sandbox() and /__sandbox/config."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .shapes import normalize as normalize_shapes

SECRET_ID = "sandbox-secret-id"
SECRET_KEY = "sandbox-secret-key"
API_KEY = "sandbox-api-key"


@dataclass(frozen=True)
class Switch:
    name: str
    kind: str  # int | float | bool | choice | str | retry_after
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
            "`date`: strict = updated < date, inclusive = updated <= date (messages: also > / >=)",
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
            "tie_order",
            "choice",
            "stable",
            "contacts with equal `updated`: stable (by id) or shuffled anew for every request "
            "(seeded by fault_seed), so that paging through a tie group never settles",
            choices=("stable", "shuffled"),
        ),
        Switch("inboxes", "int", 4, "number of inboxes (GET /v1/inboxes)", minimum=0),
        Switch(
            "empty_inbox",
            "bool",
            False,
            "add one more inbox that has no members",
        ),
        Switch("members", "int", 8, "team members (GET /v1/team)", minimum=1, maximum=500),
        Switch("templates", "int", 75, "number of templates (POST /v1/templates)", minimum=0),
        Switch(
            "template_tie",
            "int",
            0,
            "one tie group of this many templates (0 = none; above 30 it is larger than a page)",
            minimum=0,
        ),
        Switch(
            "archived_templates",
            "choice",
            "listed",
            "whether POST /v1/templates lists archived templates: listed or hidden",
            choices=("listed", "hidden"),
        ),
        Switch("surveys", "int", 23, "number of surveys (POST /v1/surveys)", minimum=0),
        Switch(
            "survey_page0",
            "choice",
            "first",
            "POST /v1/surveys with page 0 or no page: first (= page 1) or error (400 bad_data)",
            choices=("first", "error"),
        ),
        Switch(
            "status_missing",
            "float",
            0.0,
            "fraction of contacts whose POST /v1/contact/status answers 404 (as if deleted)",
            minimum=0,
            maximum=1,
        ),
        Switch("messages", "int", 0, "messages in POST /v1/messages/all", minimum=0),
        Switch(
            "threads",
            "bool",
            False,
            "messages in threads: a pool of phones, broadcasts answered within and after 72 h, "
            "opt-out keywords (data/threads.py); with conversations, threads carry the ids and "
            "status of served conversations (data/links.py)",
        ),
        Switch(
            "messages_cursor_field",
            "choice",
            "created_at",
            "body field read as the messages cursor: created_at or date (the other is ignored)",
            choices=("created_at", "date"),
        ),
        Switch(
            "messages_cursor",
            "choice",
            "before",
            "messages cursor: before (an upper bound) or after (a lower bound; newest first)",
            choices=("before", "after"),
        ),
        Switch(
            "messages_order",
            "choice",
            "honoured",
            "messages `order: updated_at`: honoured (sorted by updated) or ignored (by date)",
            choices=("honoured", "ignored"),
        ),
        Switch(
            "messages_order_cursor",
            "choice",
            "created",
            "with `order: updated_at`, the cursor filters on the ordered field or the created date",
            choices=("ordered", "created"),
        ),
        Switch(
            "messages_ascending",
            "choice",
            "honoured",
            "messages `ascending: true`: honoured or ignored",
            choices=("honoured", "ignored"),
        ),
        Switch(
            "conversations",
            "int",
            0,
            "conversations in POST /v1/conversations, spread over every inbox",
            minimum=0,
        ),
        Switch(
            "conversations_id0",
            "choice",
            "accept",
            "POST /v1/conversations with `id: 0`: accept (no membership check) or reject (403)",
            choices=("accept", "reject"),
        ),
        Switch(
            "conversations_readers",
            "choice",
            "all",
            "inbox members POST /v1/conversations accepts as `id`: all, or the last listed",
            choices=("all", "last"),
        ),
        Switch(
            "conversations_closed_default",
            "choice",
            "all",
            "POST /v1/conversations without filters.closed: all (open and closed) or open",
            choices=("all", "open"),
        ),
        Switch(
            "conversations_closed_filter",
            "choice",
            "honoured",
            "filters.closed of POST /v1/conversations: honoured or ignored",
            choices=("honoured", "ignored"),
        ),
        Switch(
            "conversation_types",
            "choice",
            "mixed",
            "conversation inbox/assigned: int ids (read 0/1), objects (read a boolean), or mixed",
            choices=("int", "object", "mixed"),
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
            "fail_after",
            "int",
            0,
            "answer 503 to every API request after this many more (0 = off; counts from when "
            "it is set)",
            minimum=0,
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
        Switch(
            "mutate_templates",
            "int",
            0,
            "templates changed by each mutation (mutate_every, POST /__sandbox/mutate)",
            minimum=0,
        ),
        Switch(
            "mutate_messages",
            "int",
            0,
            "message status changes by each mutation (messages' mutate_every, /__sandbox/mutate)",
            minimum=0,
        ),
        Switch(
            "create_messages",
            "int",
            0,
            "messages created by each mutation (messages' mutate_every, /__sandbox/mutate)",
            minimum=0,
        ),
        Switch(
            "mutate_conversations",
            "int",
            0,
            "conversations reopened, closed or touched by each mutation (their own mutate_every)",
            minimum=0,
        ),
        Switch(
            "create_conversations",
            "int",
            0,
            "conversations created by each mutation (their own mutate_every, /__sandbox/mutate)",
            minimum=0,
        ),
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
        Switch(
            "shapes",
            "str",
            "",
            "serve fields in their other plausible types: a comma-separated list of cases "
            "(heymarket_sandbox.shapes.SHAPE_CASES), all, or '' (off)",
        ),
    )
}

# Changing one of these rebuilds the contacts data set (mutations are lost).
REBUILD = frozenset({"contacts", "seed", "precision"})

# Every resource and the switches its data is built from; changing one rebuilds it (and
# loses its mutations).  seed and precision rebuild everything.
RESOURCE_SWITCHES: dict[str, frozenset[str]] = {
    "contacts": REBUILD,
    "team": frozenset({"seed", "precision", "members"}),
    "inboxes": frozenset({"seed", "precision", "members", "inboxes", "empty_inbox"}),
    "templates": frozenset({"seed", "precision", "members", "templates", "template_tie"}),
    "surveys": frozenset({"seed", "precision", "surveys"}),
    "messages": frozenset({"seed", "precision", "messages", "threads"}),
    # Built last: from the team and the inboxes.
    "conversations": frozenset(
        {"seed", "precision", "members", "inboxes", "empty_inbox", "conversations"}
    ),
}

_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off", "")


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
    if sw.kind == "bool":
        if isinstance(value, bool):
            return value
        if isinstance(value, int) and value in (0, 1):
            return bool(value)
        if isinstance(value, str) and value.strip().lower() in _TRUE + _FALSE:
            return value.strip().lower() in _TRUE
        raise ValueError(f"{name} must be a boolean (true/false or 1/0)")
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
        if name == "shapes":
            return normalize_shapes(value)
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
