"""GET /v1/inboxes: a bare array of every inbox (data/inboxes.py); no body, no paging."""

from __future__ import annotations

from typing import Any

from ..data.inboxes import obj
from .request import Call, Route


def list_inboxes(call: Call) -> list[dict[str, Any]]:
    world = call.world
    return [obj(i, world.clock) for i in world.inboxes]


ROUTES = (Route("GET", "/v1/inboxes", list_inboxes, is_list=True),)
