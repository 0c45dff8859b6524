"""POST /v1/messages/all and POST /v1/messages/all/count: the messages store
(data/messages.py), team-wide.

Everything the docs leave open about this endpoint is a switch (docs/sandbox.md,
"Endpoints" and "Switches"):

* `messages_cursor_field`: the body field the cursor is read from, `created_at` (the prose)
  or `date` (the generated schema). The other name is silently ignored, not even validated.
* `messages_cursor`: `before` (the prose: messages older than the cursor, newest first) or
  `after` (a lower bound, as third-party material and cached real answers suggest: messages at
  or after it, still the newest `limit` of them unless `ascending` is honoured).
* `cursor` (shared with contacts): `strict` compares with `<` / `>`, `inclusive` with
  `<=` / `>=`.
* `messages_order`: whether `order: "updated_at"` is `honoured` (sorted by `updated`) or
  `ignored` (always sorted by the created `date`).
* `messages_order_cursor`: with `order: "updated_at"` honoured, whether the cursor filters
  on the `ordered` field (`updated`) or still on the `created` date.
* `messages_ascending`: whether `ascending: true` is `honoured` or `ignored`.
* `max_limit` clamps `limit` (default 30), `page` counts offsets inside the filtered, ordered
  list exactly as for contacts (`page` is not documented for messages).
"""

from __future__ import annotations

from typing import Any

from ..data.message_query import Query
from ..data.mutation import Mutation
from ..timefmt import parse_date_ns
from .request import ApiError, Call, RawJson, Route, int_field, limit_field


def parse_query(body: dict[str, Any], cfg: dict[str, Any], *, count: bool = False) -> Query:
    """A `POST /v1/messages/all` body, read per the switches; ApiError 400 if invalid."""
    limit = limit_field(body, 30)
    if cfg["max_limit"]:
        limit = min(limit, cfg["max_limit"])
    mode = cfg["page"]
    page = None
    if mode != "ignore" and not count:
        page = int_field(body, "page", None)
        if page is not None and page < 0:
            raise ApiError(400, "bad_data", "page must be >= 0")
    offset = 0
    if mode == "zero" and page:
        offset = page * limit
    elif mode == "one" and page and page > 1:
        offset = (page - 1) * limit
    field = cfg["messages_cursor_field"]
    raw = body.get(field)
    cut_ns: int | None = None
    if raw is not None:
        if not isinstance(raw, str):
            raise ApiError(400, "bad_data", f"{field} must be an RFC 3339 string")
        try:
            cut_ns = parse_date_ns(raw)
        except ValueError as e:
            raise ApiError(400, "bad_data", str(e)) from None
    order = body.get("order")
    sort_updated = False
    if cfg["messages_order"] == "honoured":
        if order not in (None, "created_at", "updated_at"):
            raise ApiError(400, "bad_data", "order must be created_at or updated_at")
        sort_updated = order == "updated_at"
    ascending = body.get("ascending")
    ascend = False
    if cfg["messages_ascending"] == "honoured":
        if ascending is not None and not isinstance(ascending, bool):
            raise ApiError(400, "bad_data", "ascending must be a boolean")
        ascend = bool(ascending)
    return Query(
        limit=limit,
        offset=offset,
        cut_ns=cut_ns,
        sort_updated=sort_updated,
        filter_updated=sort_updated and cfg["messages_order_cursor"] == "ordered",
        ascending=ascend,
        before=cfg["messages_cursor"] == "before",
        inclusive=cfg["cursor"] == "inclusive",
    )


def list_messages(call: Call) -> RawJson:
    body = call.body()
    state = call.state
    with state.lock:
        cfg = state.config
        store = state.world.messages
        store.requests += 1
        every = cfg["mutate_every"]
        changes, new = cfg["mutate_messages"], cfg["create_messages"]
        if every and store.requests % every == 0 and (changes or new):
            state.mutate(Mutation(messages=changes, new_messages=new))
        store = state.world.messages
        return RawJson(store.page_json(store.select(parse_query(body, cfg))))


def count_messages(call: Call) -> str:
    """The same filter as the list; the answer is a JSON string, as documented."""
    body = call.body()
    with call.state.lock:
        return str(call.world.messages.count(parse_query(body, call.config, count=True)))


ROUTES = (
    Route("POST", "/v1/messages/all", list_messages, is_list=True),
    Route("POST", "/v1/messages/all/count", count_messages),
)
