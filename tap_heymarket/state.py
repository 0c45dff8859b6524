"""Checks on a `--state` file before anything is read from the API.

A corrupt bookmark would otherwise surface mid-sync as a parsing error, or worse, move
the walk's floor. Each problem is reported with where it is in the file.
"""

from __future__ import annotations

import typing as t

from tap_heymarket import timestamps
from tap_heymarket.walk_state import revs_pair_ok


class InvalidStateError(ValueError):
    """The state file is not one this tap wrote (or could have written)."""


def state_errors(state: t.Any, incremental_streams: t.Iterable[str]) -> list[str]:
    """Problems in a state object, each naming its location."""
    if not isinstance(state, dict):
        return [f"state must be a JSON object, got a {type(state).__name__}"]
    bookmarks = state.get("bookmarks", {})
    if not isinstance(bookmarks, dict):
        return [f"state.bookmarks must be an object, got a {type(bookmarks).__name__}"]
    errors: list[str] = []
    incremental = set(incremental_streams)
    for stream, entry in bookmarks.items():
        where = f"state.bookmarks.{stream}"
        if not isinstance(entry, dict):
            errors.append(f"{where} must be an object, got a {type(entry).__name__}")
            continue
        if stream not in incremental:
            continue
        _check_time(entry.get("replication_key_value"), f"{where}.replication_key_value", errors)
        _check_revs(entry.get("revs_at_bookmark"), f"{where}.revs_at_bookmark", errors)
        walk = entry.get("walk")
        if walk is None:
            continue
        if not isinstance(walk, dict):
            errors.append(f"{where}.walk must be an object, got a {type(walk).__name__}")
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
        errors.append(f"{where} must be a list of [id, rev] pairs, got a {type(value).__name__}")
        return
    for index, pair in enumerate(value):
        if not revs_pair_ok(pair):
            errors.append(f"{where}[{index}] must be an [id, rev] pair of integers, got {pair!r}")
            return
