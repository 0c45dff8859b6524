"""POST /v1/tags: up to 30 tags (data/tags.py), newest first, `date` = updated before."""

from __future__ import annotations

from typing import Any

from ..data.common import boundary, newest_first
from .request import Call, Route, paging


def list_tags(call: Call) -> list[dict[str, Any]]:
    cfg = call.config
    date_ns, limit, offset = paging(call.body(), cfg, 30)
    tags = call.world.tags
    hi = boundary(tags.updated, date_ns, cfg["cursor"] == "inclusive")
    return [tags.obj(t) for t in newest_first(tags.tags, hi, limit, offset)]


ROUTES = (Route("POST", "/v1/tags", list_tags, is_list=True),)
