"""The sandbox's conversations as the tap emits them (tests/sandbox/test_conversations.py,
tests/tap/test_conversations.py)."""

from __future__ import annotations

from heymarket_sandbox import Sandbox
from tap_heymarket import timestamps

#: The tap's page size in the conversations tests.
PAGE_SIZE = 25


def truth_of(sb: Sandbox) -> tuple[dict[int, str], set[int]]:
    """(id -> `updated` normalised like the tap's output, ids no user id can read)."""
    entry = sb.truth()["streams"]["conversations"]
    ids = {int(k): timestamps.normalize(timestamps.parse(v)) for k, v in entry["ids"].items()}
    assert entry["count"] == len(ids)
    return ids, set(entry["unreachable"])
