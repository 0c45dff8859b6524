"""Every resource's data for one configuration, deterministic from the seed."""

from __future__ import annotations

from random import Random
from typing import Any

from .config import RESOURCE_SWITCHES
from .deletes import DELETABLE
from .resources import (
    contact_fields,
    contact_status,
    conversations,
    inboxes,
    surveys,
    tags,
    team,
    templates,
)
from .resources.contacts import ContactStore
from .resources.messages import MessageStore
from .timefmt import Clock


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
        return changed

    def mutate(
        self,
        n: int,
        new: int,
        templates: int,
        messages: int = 0,
        new_messages: int = 0,
        message_ids: list[int] | None = None,
        fields: int = 0,
        conversations: int = 0,
        new_conversations: int = 0,
        rewrite_ids: list[int] | None = None,
    ) -> dict[str, list[int]]:
        if rewrite_ids:  # first, so that a bad id changes nothing
            rewritten = self.contacts.rewrite(rewrite_ids)
        updated, created = self.contacts.mutate(n, new)
        changed = self.templates.mutate(templates) if templates else []
        out = {"updated_ids": updated, "created_ids": created, "template_ids": changed}
        if rewrite_ids:
            out["rewritten_ids"] = rewritten
        if messages or new_messages or message_ids:
            statuses, sent = self.messages.mutate(messages, new_messages, message_ids)
            out |= {"message_ids": statuses, "created_message_ids": sent}
        if fields:
            out["field_ids"] = self.fields.rename(fields)
        if conversations or new_conversations:
            changed_c, created_c = self.conversations.mutate(conversations, new_conversations)
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

    def truth(
        self, cfg: dict[str, Any], with_updated: bool, *, custom: bool = False, status: bool = False
    ) -> dict[str, Any]:
        """Everything a full sync must end with. `custom` and `status` add what the
        contact_field_values and contact_status streams must hold; they derive every
        contact (about 50 µs each), so they are asked for, not always there."""
        contacts = self.contacts
        out = contacts.truth(with_updated)
        out["tags"] = self.tags.truth(False)["ids"]
        out["tag_count"] = len(self.tags)
        out["contact_fields"] = self.fields.ids
        out["contact_field_count"] = len(self.fields.ids)
        out["deleted_contact_fields"] = list(self.fields.deleted_ids)
        out.update(contacts.tie_truth())
        out["nul_contacts"] = contacts.nul_ids()
        streams: dict[str, Any] = {
            "contacts": {"count": out["count"], "ids": out["contacts"]},
            "contact_fields": self.fields.truth(),
            "tags": self.tags.truth(with_updated),
            "inboxes": inboxes.truth(self.inboxes),
            **team.truth(self.team),
            "templates": self.templates.truth(cfg["archived_templates"] == "hidden", with_updated),
            "surveys": self.surveys.truth(with_updated),
            "messages": self.messages.truth(with_updated),
            "conversations": self.conversations.truth(cfg, self.inboxes),
        }
        if with_updated:
            streams["contacts"]["updated"] = out["updated"]
        # Hard deletes (`delete`): gone from `ids`, listed here.
        out["deleted"] = {}
        for name, store in (
            ("contacts", contacts),
            ("tags", self.tags),
            ("templates", self.templates),
        ):
            streams[name]["deleted"] = out["deleted"][name] = sorted(store.deleted)
        if custom:
            out["custom"], streams["contact_field_values"] = self.custom_truth()
        if status:
            out["statuses"], streams["contact_status"] = contact_status.truth(
                contacts, cfg["status_missing"]
            )
        out["streams"] = streams
        return out

    def custom_truth(self) -> tuple[dict[str, Any], dict[str, Any]]:
        """(every contact's custom map by id, the truth["streams"] entry of
        contact_field_values: one id "<contact id>/<field key>" per key, -> the contact's
        rev)."""
        store = self.contacts
        maps = {str(store.ids[i]): store.contact(i)["custom"] for i in range(len(store.ids))}
        ids = {
            f"{cid}/{key}": store.rev[i]
            for i, cid in enumerate(store.ids)
            for key in maps[str(cid)]
        }
        return maps, {"count": len(ids), "ids": ids}
