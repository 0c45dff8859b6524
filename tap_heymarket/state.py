"""Every check on a `--state` file, run before anything is read from the API.

A corrupt bookmark would otherwise surface mid-sync as a parsing error, or worse, move
the walk's floor. Each problem is reported with where it is in the file. The layout
checked is the one state_keys.py describes; `all_state_errors` is what the tap runs.
"""

from __future__ import annotations

import typing as t

from tap_heymarket import timestamps
from tap_heymarket.message_strategy import STRATEGIES
from tap_heymarket.state_keys import (
    CREATED_KEY,
    MESSAGE_WALK_KEY,
    STRATEGY_KEY,
    WALK_NAME,
    WALKS_KEY,
)
from tap_heymarket.walk_state import revs_pair_ok

#: The streams whose entries have a layout of their own (state_keys.py).
MESSAGES = "messages"
CONVERSATIONS = "conversations"


class InvalidStateError(ValueError):
    """The state file is not one this tap wrote (or could have written)."""


def json_kind(value: t.Any) -> str:
    """What a JSON value is, in JSON's words: `an array`, `a number`, `a string`, ..."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, (list, tuple)):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return f"a {type(value).__name__}"


#: How to start over when a state is refused: what a refusal ends with.
START_OVER = (
    "to start over, run without --state (under Meltano: `meltano run --full-refresh ...`, "
    "or `meltano state clear <state id>` to drop the stored state)"
)
#: `meltano state get` prints the tap's state inside this key.
MELTANO_WRAPPER = "singer_state"


def unwrap_meltano(state: t.Any) -> tuple[t.Any, bool]:
    """The tap's own state, and whether it came wrapped as `meltano state get` prints it
    (`{"singer_state": {...}}`): a wrapper is unwrapped, since no state of this tap has that
    key, so a state saved from Meltano works as a `--state` file."""
    if (
        isinstance(state, dict)
        and set(state) == {MELTANO_WRAPPER}
        and isinstance(state[MELTANO_WRAPPER], dict)
    ):
        return state[MELTANO_WRAPPER], True
    return state, False


def unknown_streams(state: t.Any, streams: t.Iterable[str]) -> tuple[list[str], list[str]]:
    """(known, unknown): the streams state.bookmarks has entries for, this tap's and not."""
    bookmarks = state.get("bookmarks") if isinstance(state, dict) else None
    if not isinstance(bookmarks, dict):
        return [], []
    ours = set(streams)
    return [s for s in bookmarks if s in ours], [s for s in bookmarks if s not in ours]


def all_state_errors(state: t.Any, incremental_streams: t.Iterable[str]) -> list[str]:
    """Every problem in a `--state` file: each stream's entry, then messages' and
    conversations' own keys."""
    return (
        state_errors(state, incremental_streams)
        + message_state_errors(state)
        + conversation_state_errors(state)
    )


def state_errors(state: t.Any, incremental_streams: t.Iterable[str]) -> list[str]:
    """Problems in a state object, each naming its location."""
    if not isinstance(state, dict):
        return [f"state must be a JSON object, got {json_kind(state)}"]
    bookmarks = state.get("bookmarks", {})
    if not isinstance(bookmarks, dict):
        return [f"state.bookmarks must be an object, got {json_kind(bookmarks)}"]
    errors: list[str] = []
    incremental = set(incremental_streams)
    for stream, entry in bookmarks.items():
        where = f"state.bookmarks.{stream}"
        if not isinstance(entry, dict):
            errors.append(f"{where} must be an object, got {json_kind(entry)}")
            continue
        if stream not in incremental:
            continue
        _check_time(entry.get("replication_key_value"), f"{where}.replication_key_value", errors)
        _check_revs(entry.get("revs_at_bookmark"), f"{where}.revs_at_bookmark", errors)
        walk = entry.get("walk")
        if walk is None:
            continue
        if not isinstance(walk, dict):
            errors.append(f"{where}.walk must be an object, got {json_kind(walk)}")
            continue
        for key in ("floor", "top", "cursor"):
            _check_time(walk.get(key), f"{where}.walk.{key}", errors)
        if walk.get("kind") not in (None, "le", "lt"):
            errors.append(f"{where}.walk.kind must be 'le' or 'lt', got {walk.get('kind')!r}")
        _check_revs(walk.get("revs_at_top"), f"{where}.walk.revs_at_top", errors)
    return errors


def _check_time(value: t.Any, where: str, errors: list[str]) -> None:
    if value is None:
        return
    try:
        timestamps.parse(value)
    except (TypeError, ValueError):
        errors.append(f"{where} must be an ISO 8601 date-time, got {value!r}")


def _check_revs(value: t.Any, where: str, errors: list[str]) -> None:
    """`[[id, rev], ...]` (absent in states written before it existed)."""
    if value is None:
        return
    if not isinstance(value, list):
        errors.append(f"{where} must be a list of [id, rev] pairs, got {json_kind(value)}")
        return
    for index, pair in enumerate(value):
        if not revs_pair_ok(pair):
            errors.append(f"{where}[{index}] must be an [id, rev] pair of integers, got {pair!r}")
            return


def message_state_errors(state: t.Any) -> list[str]:
    """Problems in the messages entry of a `--state` file, each naming its location."""
    if not isinstance(state, dict) or not isinstance(state.get("bookmarks"), dict):
        return []
    entry = state["bookmarks"].get(MESSAGES)
    if not isinstance(entry, dict):
        return []
    where = f"state.bookmarks.{MESSAGES}"
    errors = []
    value = entry.get(CREATED_KEY)
    if value is not None:
        try:
            timestamps.parse(value)
        except (TypeError, ValueError):
            errors.append(f"{where}.{CREATED_KEY} must be an ISO 8601 date-time, got {value!r}")
    strategy = entry.get(STRATEGY_KEY)
    if strategy is not None and not isinstance(strategy, dict):
        errors.append(f"{where}.{STRATEGY_KEY} must be an object")
    return errors + _message_walk_errors(entry.get(MESSAGE_WALK_KEY), f"{where}.{MESSAGE_WALK_KEY}")


def _message_walk_errors(walk: t.Any, where: str) -> list[str]:
    """Problems in a saved `message_walk` object (checked before any request)."""
    if walk is None:
        return []
    if not isinstance(walk, dict):
        return [f"{where} must be an object, got {json_kind(walk)}"]
    errors: list[str] = []
    if walk.get("strategy") not in STRATEGIES:
        errors.append(f"{where}.strategy must be one of {list(STRATEGIES)}")
    for name in ("floor", "max_updated", "max_date"):
        _check_time(walk.get(name), f"{where}.{name}", errors)
    if not isinstance(walk.get("emitted", 0), int):
        errors.append(f"{where}.emitted must be an integer")
    engine = walk.get("engine")
    if not isinstance(engine, dict):
        errors.append(f"{where}.engine must be an object")
        return errors
    for name in ("cursor", "top", "last", "floor"):
        _check_time(engine.get(name), f"{where}.engine.{name}", errors)
    if engine.get("kind") not in (None, "le", "lt"):
        errors.append(f"{where}.engine.kind must be 'le' or 'lt'")
    for name in ("offset", "limit"):
        value = engine.get(name)
        smallest = 1 if name == "limit" else 0
        if value is not None and (not isinstance(value, int) or value < smallest):
            errors.append(f"{where}.engine.{name} must be a whole number")
    at_last = engine.get("at_last")
    if at_last is not None and not (
        isinstance(at_last, list) and all(isinstance(i, int) for i in at_last)
    ):
        errors.append(f"{where}.engine.at_last must be a list of ids")
    return errors


def conversation_state_errors(state: t.Any) -> list[str]:
    """Problems in the conversations entry of a `--state` file, each naming its location.

    Each walk's entry is checked exactly as `state_errors` checks a stream's (bookmark,
    `revs_at_bookmark`, `walk`).
    """
    if not isinstance(state, dict) or not isinstance(state.get("bookmarks"), dict):
        return []
    entry = state["bookmarks"].get(CONVERSATIONS)
    if not isinstance(entry, dict) or entry.get(WALKS_KEY) is None:
        return []
    where = f"state.bookmarks.{CONVERSATIONS}.{WALKS_KEY}"
    walks = entry[WALKS_KEY]
    if not isinstance(walks, dict):
        return [f"{where} must be an object, got {json_kind(walks)}"]
    errors = []
    for key, value in walks.items():
        if not WALK_NAME.fullmatch(key):
            errors.append(f"{where} has the key {key!r}: expected '<inbox id>/open' or '/closed'")
            continue
        name = f"{CONVERSATIONS}.{WALKS_KEY}.{key}"
        errors += state_errors({"bookmarks": {name: value}}, [name])
    return errors
