"""POST /v1/contacts and POST /v1/contacts/count: pages of the contacts store
(data/contacts.py), newest first, `date` = updated before; `mutate_every` runs here."""

from __future__ import annotations

from random import Random

from ..data.mutation import Mutation
from .request import Call, RawJson, Route, paging


def list_contacts(call: Call) -> RawJson:
    body = call.body()
    state = call.state
    with state.lock:
        state.list_counter += 1
        cfg = state.config
        every = cfg["mutate_every"]
        if every and state.list_counter % every == 0:
            state.mutate(
                Mutation(
                    contacts=cfg["mutate_count"],
                    new_contacts=cfg["create_count"],
                    templates=cfg["mutate_templates"],
                )
            )
        date_ns, limit, offset = paging(body, state.config, None)
        store = state.world.contacts
        inclusive = state.config["cursor"] == "inclusive"
        if cfg["tie_order"] == "shuffled":
            rng = Random(cfg["fault_seed"] * 1_000_003 + state.list_counter)
            rows = store.page_shuffled(date_ns, inclusive, limit, offset, rng)
        else:
            rows = store.page(date_ns, inclusive, limit, offset)
        return RawJson(store.page_json(rows))


def count_contacts(call: Call) -> dict[str, int]:
    call.body()
    return {"count": len(call.world.contacts)}


ROUTES = (
    Route("POST", "/v1/contacts", list_contacts, is_list=True),
    Route("POST", "/v1/contacts/count", count_contacts),
)
