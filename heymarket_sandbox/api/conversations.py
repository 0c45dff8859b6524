"""POST /v1/conversations and POST /v1/conversations/count: the conversations store
(data/conversations.py), per inbox and member.

Everything the docs leave open about this endpoint is a switch (docs/sandbox.md,
"Endpoints" and "Switches"):

* the body REQUIRES `id` (the user id of a member of every inbox asked for) and `filters`
  with `inboxes` (a non-empty list of inbox ids): without them, 400 `bad_data`; an `id`
  that is not a member of an inbox asked for answers 403 `forbidden`.
  `conversations_id0`: whether `id: 0` lifts the membership check (`accept`) or is
  refused like any non-member (`reject`). `conversations_readers`: `all` members may
  read, or only the `last` one listed for the inbox (the others answer 403, as a
  deactivated account would);
* `filters.closed`: `conversations_closed_filter` `honoured` or `ignored` (every
  conversation either way); left out, `conversations_closed_default` decides: `all`
  (open and closed) or `open` (closed conversations are archived out of the list);
* `filters.unread` (a boolean) keeps the conversations unread (or read) *by that user*;
  `read` in the objects is relative to the user too (a hash of seed, id, version, user);
* `conversation_types`: `inbox` and `assigned` are integer ids (`int`, with `read` 0/1),
  objects `{id, name}` / `{id, name, email}` (`object`, with `read` a boolean), or one or
  the other by the parity of the conversation id (`mixed`);
* `date` = updated before (`cursor`: `<` or `<=`, `date_precision`), `limit` (default 30,
  clamped by `max_limit`), `page` per the `page` switch: as for contacts.
"""

from __future__ import annotations

from operator import itemgetter
from typing import TYPE_CHECKING, Any

from ..data.common import boundary, newest_first
from ..data.mutation import Mutation
from ..shapes import request_id
from .request import ApiError, Call, Route, paging

if TYPE_CHECKING:
    from ..state import State

_UPDATED = itemgetter("_updated")


def _bool_filter(filters: dict[str, Any], name: str) -> bool | None:
    value = filters.get(name)
    if value is not None and not isinstance(value, bool):
        raise ApiError(400, "bad_data", f"filters.{name} must be a boolean")
    return value


def _query(state: State, body: dict[str, Any]) -> tuple[int, set[int], bool | None, bool | None]:
    """(user id, inbox ids, closed, unread) of a valid body; 400 or 403 otherwise."""
    cfg = state.config
    user = request_id(body.get("id"), cfg)  # a digit string too, with shapes=id_strings
    if user is None:
        raise ApiError(400, "bad_data", "id is required: the user id of a member of the inbox")
    if isinstance(user, bool) or not isinstance(user, int):
        raise ApiError(400, "bad_data", "id must be an integer")
    filters = body.get("filters")
    if not isinstance(filters, dict):
        raise ApiError(400, "bad_data", "filters is required: {inboxes: [inbox ids], ...}")
    inboxes = filters.get("inboxes")
    if isinstance(inboxes, list):
        inboxes = [request_id(i, cfg) for i in inboxes]
    if not isinstance(inboxes, list) or not inboxes or not all(type(i) is int for i in inboxes):
        raise ApiError(400, "bad_data", "filters.inboxes must be a non-empty list of inbox ids")
    closed = _bool_filter(filters, "closed")
    unread = _bool_filter(filters, "unread")
    listed = {i["id"]: i["members"] for i in state.world.inboxes}
    for inbox in inboxes:
        members = listed.get(inbox)
        if members is None:
            raise ApiError(403, "forbidden", f"no access to inbox {inbox}")
        if user == 0 and cfg["conversations_id0"] == "accept":
            continue
        readers = members if cfg["conversations_readers"] == "all" else members[-1:]
        if user not in readers:
            raise ApiError(403, "forbidden", f"user {user} is not a member of inbox {inbox}")
    return user, set(inboxes), closed, unread


def list_conversations(call: Call) -> list[dict[str, Any]]:
    body = call.body()
    state = call.state
    with state.lock:
        cfg = state.config
        store = state.world.conversations
        store.requests += 1
        every = cfg["mutate_every"]
        changes, new = cfg["mutate_conversations"], cfg["create_conversations"]
        if every and store.requests % every == 0 and (changes or new):
            state.mutate(Mutation(conversations=changes, new_conversations=new))
        user, inboxes, closed, unread = _query(state, body)
        date_ns, limit, offset = paging(body, cfg, None)
        items = store.select(inboxes, closed, unread, user, cfg)
        hi = boundary(items, date_ns, cfg["cursor"] == "inclusive", _UPDATED)
        types = cfg["conversation_types"]
        return [store.obj(c, user, types) for c in newest_first(items, hi, limit, offset)]


def count_conversations(call: Call) -> str:
    """The list's filters (`date` too, without paging); a JSON string, like messages'."""
    body = call.body()
    state = call.state
    with state.lock:
        cfg = state.config
        user, inboxes, closed, unread = _query(state, body)
        date_ns, _, _ = paging({k: v for k, v in body.items() if k != "page"}, cfg, None)
        items = state.world.conversations.select(inboxes, closed, unread, user, cfg)
        return str(boundary(items, date_ns, cfg["cursor"] == "inclusive", _UPDATED))


ROUTES = (
    Route("POST", "/v1/conversations", list_conversations, is_list=True),
    Route("POST", "/v1/conversations/count", count_conversations),
)
