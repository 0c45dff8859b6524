"""POST /v1/contact-fields: every contact field of the team (data/contact_fields.py), one
answer, no paging."""

from __future__ import annotations

from typing import Any

from .request import Call, Route


def list_fields(call: Call) -> list[dict[str, Any]]:
    call.body()  # validated, otherwise ignored
    return [dict(f) for f in call.world.fields.fields]


ROUTES = (Route("POST", "/v1/contact-fields", list_fields, is_list=True),)
