"""POST /v1/templates: at most 30 templates (data/templates.py), newest first, `date` =
updated before; `archived_templates` decides whether archived ones are listed."""

from __future__ import annotations

from operator import itemgetter
from typing import Any

from ..data.common import boundary, newest_first
from .request import Call, Route, paging

_UPDATED = itemgetter("_updated")


def list_templates(call: Call) -> list[dict[str, Any]]:
    cfg = call.config
    date_ns, limit, offset = paging(call.body(), cfg, 30)
    with call.state.lock:
        store = call.world.templates
        items = store.listed(cfg["archived_templates"] == "hidden")
        hi = boundary(items, date_ns, cfg["cursor"] == "inclusive", _UPDATED)
        return [store.obj(t) for t in newest_first(items, hi, limit, offset)]


ROUTES = (Route("POST", "/v1/templates", list_templates, is_list=True),)
