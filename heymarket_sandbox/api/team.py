"""GET /v1/team: ONE object {id, name, list_size, members: [{id, name, role}]}
(data/team.py); `list_size` is the number of contacts."""

from __future__ import annotations

from typing import Any

from .request import Call, Route


def get_team(call: Call) -> dict[str, Any]:
    world = call.world
    team = world.team
    return {
        "id": team.id,
        "name": team.NAME,
        "list_size": len(world.contacts),
        "members": [dict(m) for m in team.members],
    }


ROUTES = (Route("GET", "/v1/team", get_team),)
