"""/__sandbox/*: truth, stats, mutations, deletes and configuration; no auth, never
faulted (docs/sandbox.md, "Control endpoints")."""

from __future__ import annotations

from typing import Any

from .api.request import ApiError, RawJson, encode, int_field, parse_body
from .data.deletes import DELETABLE
from .data.mutation import BadMutation, Mutation
from .faults import Faults
from .shapes import SHAPE_CASES, TIME_FORMS, parse_cases
from .state import State


def control(
    state: State,
    faults: Faults,
    method: str,
    route: str,
    query: dict[str, list[str]],
    raw: bytes,
) -> Any:
    """The JSON answer of a control endpoint; ApiError for an unknown one or bad input."""
    path = route.rstrip("/")
    if path == "/__sandbox/truth" and method == "GET":

        def flag(name: str) -> bool:
            return (query.get(name) or ["0"])[0].lower() in ("1", "true", "yes")

        # custom=1 / status=1: every contact's custom map / status answer (slow: they
        # derive each contact; see docs/sandbox.md)
        return _truth_json(
            state.truth(flag("updated"), custom=flag("custom"), status=flag("status"))
        )
    if path == "/__sandbox/stats" and method == "GET":
        return state.stats.snapshot()
    if path == "/__sandbox/reset_stats" and method == "POST":
        state.stats.reset()
        return state.stats.snapshot()
    if path == "/__sandbox/mutate" and method == "POST":
        try:
            return state.mutate(_mutation(parse_body(raw), state.config))
        except BadMutation as e:
            raise ApiError(400, "bad_data", str(e)) from None
    if path == "/__sandbox/delete" and method == "POST":
        return _delete(state, parse_body(raw))
    if path == "/__sandbox/config" and method in ("GET", "POST"):
        if method == "GET":
            return dict(state.config)
        values = parse_body(raw)
        try:
            with state.lock:  # the faults restart under the same lock as the switches change
                answer = state.configure(values)
                faults.reconfigure(values)
        except ValueError as e:
            raise ApiError(400, "bad_data", str(e)) from None
        return answer
    if path == "/__sandbox/shapes" and method == "GET":
        # every case of the `shapes` switch, and those on now
        return {
            "cases": list(SHAPE_CASES),
            "active": list(parse_cases(state.config["shapes"])),
            "time_forms": list(TIME_FORMS),
        }
    if path == "/__sandbox/health" and method == "GET":
        return {"ok": True}
    raise ApiError(404, "not_found", f"no control endpoint {method} {route}")


def _mutation(body: dict[str, Any], cfg: dict[str, Any]) -> Mutation:
    """The Mutation of a `POST /__sandbox/mutate` body; a count left out is its switch's
    (`mutate_count`, `create_count`, ...); ApiError 400 for a bad value."""
    n = int_field(body, "n", cfg["mutate_count"])
    new = int_field(body, "new", cfg["create_count"])
    templates = int_field(body, "templates", cfg["mutate_templates"])
    if n is None or new is None or templates is None or min(n, new, templates) < 0:
        raise ApiError(400, "bad_data", "n, new and templates must be integers >= 0")
    messages = int_field(body, "messages", cfg["mutate_messages"])
    new_messages = int_field(body, "new_messages", cfg["create_messages"])
    ids = body.get("message_ids") or []
    if messages is None or new_messages is None or min(messages, new_messages) < 0:
        raise ApiError(400, "bad_data", "messages and new_messages must be integers >= 0")
    if not isinstance(ids, list) or not all(type(i) is int for i in ids):
        raise ApiError(400, "bad_data", "message_ids must be a list of integers")
    fields = int_field(body, "fields", 0)  # rename this many contact fields
    if fields is None or fields < 0:
        raise ApiError(400, "bad_data", "fields must be an integer >= 0")
    conversations = int_field(body, "conversations", cfg["mutate_conversations"])
    new_conversations = int_field(body, "new_conversations", cfg["create_conversations"])
    if conversations is None or new_conversations is None:
        raise ApiError(400, "bad_data", "conversations and new_conversations must be integers")
    if min(conversations, new_conversations) < 0:
        raise ApiError(400, "bad_data", "conversations and new_conversations must be >= 0")
    rewrite = body.get("rewrite_ids") or []
    if not isinstance(rewrite, list) or not all(type(i) is int for i in rewrite):
        raise ApiError(400, "bad_data", "rewrite_ids must be a list of integers")
    return Mutation(
        contacts=n,
        new_contacts=new,
        templates=templates,
        messages=messages,
        new_messages=new_messages,
        message_ids=tuple(ids),
        fields=fields,
        conversations=conversations,
        new_conversations=new_conversations,
        rewrite_ids=tuple(rewrite),
    )


def _delete(state: State, body: dict[str, Any]) -> dict[str, Any]:
    """`{"stream": name, "n": k}` or `{"stream": name, "ids": [...]}` -> the ids deleted."""
    stream = body.get("stream")
    if stream not in DELETABLE:
        raise ApiError(400, "bad_data", f"stream must be one of {', '.join(DELETABLE)}")
    ids = body.get("ids")
    n = int_field(body, "n", None)
    if ids is not None:
        if not isinstance(ids, list) or not all(type(i) is int for i in ids):
            raise ApiError(400, "bad_data", "ids must be a list of integers")
    elif n is None or n < 0:
        raise ApiError(400, "bad_data", "n (an integer >= 0) or ids is required")
    return {"stream": stream, "deleted_ids": state.delete(stream, n, ids)}


def _truth_json(truth: dict[str, Any]) -> RawJson:
    """Encode truth, with the contacts' maps (also under streams.contacts) encoded once:
    at a million contacts that halves the time of /__sandbox/truth."""
    shared = {}
    streamed = truth["streams"]["contacts"]
    for top, inner in (("contacts", "ids"), ("updated", "updated")):
        if top in truth:
            mark = f"@@truth-{top}@@"
            shared[encode(mark)] = encode(truth[top])
            truth[top] = streamed[inner] = mark
    raw = encode(truth)
    for mark_raw, value in shared.items():
        raw = raw.replace(mark_raw, value)
    return RawJson(raw)
