"""What a full sync must end with: `truth(world, cfg, ...)` assembles the answer of
`GET /__sandbox/truth` from every store of a `World` (docs/sandbox.md, "Control endpoints")."""

from __future__ import annotations

from typing import Any

from . import contact_status, inboxes, team
from .contacts import ContactStore
from .world import World


def truth(
    world: World,
    cfg: dict[str, Any],
    with_updated: bool,
    *,
    custom: bool = False,
    status: bool = False,
) -> dict[str, Any]:
    """Everything a full sync must end with. `custom` and `status` add what the
    contact_field_values and contact_status streams must hold; they derive every
    contact (about 50 µs each), so they are asked for, not always there."""
    contacts = world.contacts
    out = contacts.truth(with_updated)
    out["tags"] = world.tags.truth(False)["ids"]
    out["tag_count"] = len(world.tags)
    out["contact_fields"] = world.fields.ids
    out["contact_field_count"] = len(world.fields.ids)
    out["deleted_contact_fields"] = list(world.fields.deleted_ids)
    out.update(contacts.tie_truth())
    out["nul_contacts"] = contacts.nul_ids()
    streams: dict[str, Any] = {
        "contacts": {"count": out["count"], "ids": out["contacts"]},
        "contact_fields": world.fields.truth(),
        "tags": world.tags.truth(with_updated),
        "inboxes": inboxes.truth(world.inboxes),
        **team.truth(world.team),
        "templates": world.templates.truth(cfg["archived_templates"] == "hidden", with_updated),
        "surveys": world.surveys.truth(with_updated),
        "messages": world.messages.truth(with_updated),
        "conversations": world.conversations.truth(cfg, world.inboxes),
    }
    if with_updated:
        streams["contacts"]["updated"] = out["updated"]
    # Hard deletes (`delete`): gone from `ids`, listed here.
    out["deleted"] = {}
    for name, store in (
        ("contacts", contacts),
        ("tags", world.tags),
        ("templates", world.templates),
    ):
        streams[name]["deleted"] = out["deleted"][name] = sorted(store.deleted)
    if custom:
        out["custom"], streams["contact_field_values"] = custom_truth(contacts)
    if status:
        out["statuses"], streams["contact_status"] = contact_status.truth(
            contacts, cfg["status_missing"]
        )
    out["streams"] = streams
    return out


def custom_truth(store: ContactStore) -> tuple[dict[str, Any], dict[str, Any]]:
    """(every contact's custom map by id, the truth["streams"] entry of
    contact_field_values: one id "<contact id>/<field key>" per key, -> the contact's
    rev)."""
    maps = {str(store.ids[i]): store.contact(i)["custom"] for i in range(len(store.ids))}
    ids = {
        f"{cid}/{key}": store.rev[i] for i, cid in enumerate(store.ids) for key in maps[str(cid)]
    }
    return maps, {"count": len(ids), "ids": ids}
