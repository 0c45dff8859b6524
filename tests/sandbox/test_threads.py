"""The `threads` switch (heymarket_sandbox/data/threads.py): the messages the dbt package's
marts are tested on hold conversations with both directions, broadcasts from one inbox to
distinct phones, replies inside and outside 72 hours, and opt-out keywords in several
spellings. Off, every message has a phone of its own (the data every other test reads)."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta

import requests

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


# -- threads linked to conversations (heymarket_sandbox/data/links.py) ----------------------


def served_conversations(sb: Sandbox) -> dict[int, dict]:
    """Every conversation as POST /v1/conversations serves it (`inbox` as an id)."""
    assert sb.server is not None
    store = sb.server.state.world.conversations
    return {c["id"]: store.obj(c, 0, "int") for c in store.items}


def linked_threads(sb: Sandbox) -> dict[int, list[dict]]:
    """conversation id -> its messages, for the messages naming a served conversation."""
    served = served_conversations(sb)
    out: dict[int, list[dict]] = defaultdict(list)
    for m in messages(sb):
        if m["conversation"]["id"] in served:
            out[m["conversation"]["id"]].append(m)
    return dict(out)


def served_messages(sb: Sandbox) -> dict[int, dict]:
    """The messages as POST /v1/messages/all serves them (through its encoded cache)."""
    r = requests.post(
        sb.url + "/v1/messages/all", json={"limit": 100_000}, headers=sb.auth_headers(), timeout=30
    )
    assert r.status_code == 200, r.text
    return {m["id"]: m for m in r.json()}


def test_with_conversations_each_thread_carries_a_served_conversation() -> None:
    with Sandbox(contacts=0, messages=2000, conversations=60, seed=17, threads=True) as sb:
        served = served_conversations(sb)
        linked = linked_threads(sb)
        found = messages(sb)
        inboxes = {m["conversation"]["inbox"] for m in found}
    # Every conversation of the inboxes messages point at has a thread (there are more
    # threads than conversations), and no thread has two conversations.
    assert set(linked) == {cid for cid, c in served.items() if c["inbox"] in inboxes}
    cases = defaultdict(int)
    for cid, group in linked.items():
        c = served[cid]
        want = {k: c[k] for k in ("id", "inbox", "target", "channel", "status")}
        assert all(m["conversation"] == want for m in group), cid
        assert len({(m["target"], m["conversation"]["inbox"]) for m in group}) == 1, cid
        first = min(at(m["date"]) for m in group if m["type"] == "inbound")
        if c["status"] == "open":
            cases["open"] += 1
        else:
            cases["resolved" if at(c["updated"]) >= first else "closed before"] += 1
    assert set(cases) == {"open", "resolved", "closed before"}, cases
    # The threads no conversation took keep made-up ids, apart from every served one.
    others = {m["conversation"]["id"] for m in found} - set(linked)
    assert others and not others & set(served)


def test_links_are_deterministic_and_leave_the_conversations_alone() -> None:
    switches = {"contacts": 0, "messages": 800, "conversations": 40, "seed": 5}
    with Sandbox(**switches) as sb:
        alone = served_conversations(sb), sb.truth(True)["streams"]
    with Sandbox(**switches, threads=True) as sb:
        first = linked_threads(sb), served_conversations(sb), sb.truth(True)["streams"]
    with Sandbox(**switches, threads=True) as sb:
        again = linked_threads(sb), served_conversations(sb), sb.truth(True)["streams"]
    assert first[0] and first == again
    assert first[1] == alone[0]
    assert first[2]["conversations"] == alone[1]["conversations"]


def test_a_conversation_change_shows_in_its_threads_messages() -> None:
    """Through a mutation (which re-binds the links), and through a change of the record
    alone (`flip`): an encoded message is cached with its conversation's version."""
    with Sandbox(contacts=0, messages=1000, conversations=40, seed=8, threads=True) as sb:
        before = served_messages(sb)  # encodes (and caches) every message
        linked = linked_threads(sb)
        sb.mutate(n=0, new=0, conversations=40, new_conversations=2)
        mutated = served_messages(sb), served_conversations(sb)
        assert linked_threads(sb).keys() == linked.keys(), "the same threads, no new links"
        assert sb.server is not None
        with sb.server.state.lock:
            sb.server.state.world.conversations.flip(sorted(linked))
        flipped = served_messages(sb), served_conversations(sb)
    for after, served in (mutated, flipped):
        changed = 0
        for cid, group in linked.items():
            for m in group:
                assert after[m["id"]]["conversation"]["status"] == served[cid]["status"], cid
                changed += before[m["id"]]["conversation"] != after[m["id"]]["conversation"]
        assert changed, "a closed or reopened conversation shows in its messages"


def test_reconfiguring_the_conversations_links_the_threads_again() -> None:
    with Sandbox(contacts=0, messages=1000, conversations=40, seed=8, threads=True) as sb:
        served_messages(sb)
        sb.configure(conversations=80)
        served = served_conversations(sb)
        after = served_messages(sb)
        linked = {m["conversation"]["id"] for m in after.values()} & set(served)
        assert len(linked) > 40
        sb.configure(conversations=0)
        gone = served_messages(sb)
    for m in after.values():
        cid = m["conversation"]["id"]
        if cid in served:
            assert m["conversation"]["status"] == served[cid]["status"]
    assert not {m["conversation"]["id"] for m in gone.values()} & set(served)


def test_a_new_message_continues_a_thread() -> None:
    """A message sent by a mutation joins the thread (phone, inbox) of an earlier one, and
    with it that thread's conversation when it has one."""
    with Sandbox(contacts=0, messages=1000, conversations=40, seed=8, threads=True) as sb:
        before = served_messages(sb)
        created = sb.mutate(n=0, new=0, new_messages=30)["created_message_ids"]
        after = served_messages(sb)
        served = served_conversations(sb)
    assert len(created) == 30 and set(after) == set(before) | set(created)
    threads = {(m["target"], m["phone"]) for m in before.values()}
    assert all((after[i]["target"], after[i]["phone"]) in threads for i in created)
    for i in created:
        conversation = after[i]["conversation"]
        if conversation["id"] in served:
            assert conversation["status"] == served[conversation["id"]]["status"]
