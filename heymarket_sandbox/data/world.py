"""`World`: every resource's store for one configuration, deterministic from the seed;
rebuilt per switch (`reconfigure`), mutated (`mutate`, one `Mutation`) and hard-deleted from
(`delete`) across resources; the threads of the messages linked to the conversations
(links.py) whenever either changes. What a full sync must end with is in truth.py."""

from __future__ import annotations

from random import Random
from typing import Any

from ..config import RESOURCE_SWITCHES
from ..timefmt import Clock
from . import contact_fields, conversations, inboxes, links, surveys, tags, team, templates
from .contacts import ContactStore
from .deletes import DELETABLE
from .messages import MessageStore
from .mutation import Mutation


class World:
    def __init__(self, cfg: dict[str, Any]) -> None:
        self.seed = seed = cfg["seed"]
        self.clock = Clock(cfg["precision"])
        # One generator for what contacts refer to; its draws are in a fixed order (team id,
        # five core members, three core inboxes, contact fields, tags) so that the data of a
        # seed never changes.
        r = Random(f"heymarket-meta-{seed}")
        self.team_id = 40_000 + r.randrange(10_000)
        self.core_members = team.core_members(r)
        self.core_inboxes = inboxes.core_inboxes(r)
        self.fields = contact_fields.build(r)
        self.tags = tags.Tags(r, self.clock, self.team_id)
        for name in RESOURCE_SWITCHES:
            self.build(name, cfg)
        self.link()

    def link(self) -> None:
        """Link the messages' threads to the conversations afresh (links.py): after a
        build, and whenever either store is rebuilt (the old links name records gone)."""
        m = self.messages
        m.relink(
            links.link(
                m.threads,
                date=m.date,
                inbound=m.inbound,
                inbox_ids=[i["id"] for i in m.inboxes],
                items=self.conversations.items,
                seed=self.seed,
            )
        )

    def build(self, name: str, cfg: dict[str, Any]) -> None:
        """(Re)build one resource from the configuration (losing its mutations)."""
        seed, clock = self.seed, self.clock
        if name == "contacts":
            self.contacts = ContactStore(
                cfg["contacts"],
                seed,
                clock,
                team_id=self.team_id,
                members=self.core_members,
                inboxes=self.core_inboxes,
                field_ids=self.fields.ids,
                deleted_field_ids=self.fields.deleted_ids,
                tag_refs=self.tags.refs,
            )
        elif name == "team":
            self.team = team.Team(self.team_id, self.core_members, cfg["members"], seed)
        elif name == "inboxes":
            self.inboxes = inboxes.build(
                self.core_inboxes, self.team, cfg["inboxes"], cfg["empty_inbox"], seed
            )
        elif name == "templates":
            self.templates = templates.Templates(
                cfg["templates"],
                seed,
                clock,
                self.team_id,
                self.team.member_ids,
                cfg["template_tie"],
            )
        elif name == "surveys":
            self.surveys = surveys.Surveys(cfg["surveys"], seed, clock)
        elif name == "messages":
            self.messages = MessageStore(
                cfg["messages"],
                seed,
                team_id=self.team_id,
                members=self.core_members,
                inboxes=self.core_inboxes,
                threads=cfg["threads"],
            )
        elif name == "conversations":
            self.conversations = conversations.ConversationStore(
                cfg["conversations"], seed, clock, self.team, self.inboxes
            )
        else:
            raise ValueError(f"unknown resource {name!r}")

    def reconfigure(self, old: dict[str, Any], new: dict[str, Any]) -> list[str]:
        """Rebuild the resources whose switches changed; return their names."""
        changed = [
            name
            for name, switches in RESOURCE_SWITCHES.items()
            if any(old[k] != new[k] for k in switches)
        ]
        for name in changed:
            self.build(name, new)
        if {"messages", "conversations"} & set(changed):
            self.link()
        return changed

    def mutate(self, m: Mutation) -> dict[str, list[int]]:
        """Apply one mutation; the ids it changed, by kind (docs/sandbox.md, "Mutations")."""
        if m.rewrite_ids:  # first, so that a bad id changes nothing
            rewritten = self.contacts.rewrite(list(m.rewrite_ids))
        updated, created = self.contacts.mutate(m.contacts, m.new_contacts)
        changed = self.templates.mutate(m.templates) if m.templates else []
        out = {"updated_ids": updated, "created_ids": created, "template_ids": changed}
        if m.rewrite_ids:
            out["rewritten_ids"] = rewritten
        if m.messages or m.new_messages or m.message_ids:
            statuses, sent = self.messages.mutate(m.messages, m.new_messages, list(m.message_ids))
            out |= {"message_ids": statuses, "created_message_ids": sent}
        if m.fields:
            out["field_ids"] = self.fields.rename(m.fields)
        if m.conversations or m.new_conversations:
            changed_c, created_c = self.conversations.mutate(m.conversations, m.new_conversations)
            # The same threads, the same conversations: only their records changed (status,
            # `updated`, version: the encoded messages' cache keys on it). New conversations
            # take no thread, so that no message moves to another conversation without a
            # change of its own.
            self.messages.links.refresh(self.conversations.items)
            out |= {"conversation_ids": changed_c, "created_conversation_ids": created_c}
        return out

    def delete(self, stream: str, n: int | None, ids: list[int] | None = None) -> list[int]:
        """Hard-delete `n` records of `stream` (or those of `ids`); return their ids."""
        if stream == "contacts":
            return self.contacts.delete(n, ids)
        if stream == "tags":
            return self.tags.delete(n, ids)
        if stream == "templates":
            return self.templates.delete(n, ids)
        raise ValueError(f"stream must be one of {', '.join(DELETABLE)}, got {stream!r}")
