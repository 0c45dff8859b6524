"""POST /v1/surveys: body {limit, page}, pages start at 1 (data/surveys.py).

`limit` defaults to 10 and is clamped by max_limit (a short page is then not the last);
what page 0 does is the survey_page0 switch.
"""

from __future__ import annotations

from typing import Any

from .request import ApiError, Call, Route, int_field, limit_field


def list_surveys(call: Call) -> list[dict[str, Any]]:
    body = call.body()
    cfg = call.config
    limit = limit_field(body, 10)
    page = int_field(body, "page", None)
    if page is not None and page < 0:
        raise ApiError(400, "bad_data", "page must be >= 1")
    if not page:  # missing or 0
        if cfg["survey_page0"] == "error":
            raise ApiError(400, "bad_data", "page must be >= 1")
        page = 1
    if cfg["max_limit"]:
        limit = min(limit, cfg["max_limit"])
    store = call.world.surveys
    start = (page - 1) * limit
    return [store.obj(s) for s in store.items[start : start + limit]]


ROUTES = (Route("POST", "/v1/surveys", list_surveys, is_list=True),)
