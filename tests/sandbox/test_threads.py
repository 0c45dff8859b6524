"""The `threads` switch (heymarket_sandbox/data/threads.py): the messages the dbt package's
marts are tested on hold conversations with both directions, broadcasts from one inbox to
distinct phones, replies inside and outside 72 hours, and opt-out keywords in several
spellings. Off, every message has a phone of its own (the data every other test reads)."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta

from heymarket_sandbox import Sandbox

WINDOW = timedelta(hours=72)


def messages(sb: Sandbox) -> list[dict]:
    assert sb.server is not None
    store = sb.server.state.world.messages
    return [store.message(i) for i in range(len(store))]


def at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def test_without_threads_no_conversation_has_two_messages() -> None:
    with Sandbox(contacts=0, messages=600, seed=4) as sb:
        found = messages(sb)
    per_conversation = defaultdict(int)
    for m in found:
        per_conversation[m["conversation"]["id"]] += 1
    assert max(per_conversation.values()) <= 2


def test_threads_give_conversations_broadcast_replies_and_keywords() -> None:
    with Sandbox(contacts=0, messages=2000, seed=4, threads=True) as sb:
        found = messages(sb)
    by_conversation = defaultdict(set)
    for m in found:
        by_conversation[m["conversation"]["id"]].add(m["type"])
    both = [c for c, kinds in by_conversation.items() if kinds == {"inbound", "outbound"}]
    assert len(both) > 50, len(both)

    broadcasts = defaultdict(list)
    for m in found:
        if m["broadcast_id"]:
            broadcasts[m["broadcast_id"]].append(m)
    assert len(broadcasts) >= 3
    for sent in broadcasts.values():
        assert len({m["conversation"]["inbox"] for m in sent}) == 1, "one inbox per broadcast"
        assert len({m["target"] for m in sent}) == len(sent), "distinct phones"

    inbound = [m for m in found if m["type"] == "inbound"]
    inside = outside = 0
    for sent in broadcasts.values():
        start = at(sent[0]["date"])
        phones = {(m["target"], m["conversation"]["inbox"]) for m in sent}
        for m in inbound:
            if (m["target"], m["conversation"]["inbox"]) in phones and at(m["date"]) >= start:
                if at(m["date"]) - start <= WINDOW:
                    inside += 1
                else:
                    outside += 1
    assert inside > 20 and outside > 5, (inside, outside)
    texts = {m["text"] for m in inbound}
    assert {"STOP", " stop ", "UNSUBSCRIBE", "stop sending these please"} <= texts, texts
