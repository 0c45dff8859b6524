"""POST /v1/contact/status: one contact's status answer (data/contact_status.py), by `id`
or `phone`; 404 for an unknown contact and for those `status_missing` picks."""

from __future__ import annotations

from typing import Any

from ..data.contact_status import answer, index_of, index_of_phone, missing
from ..shapes import request_id
from .request import ApiError, Call, Route


def contact_status(call: Call) -> dict[str, Any]:
    body = call.body()
    cid, phone = request_id(body.get("id"), call.config), body.get("phone")
    if cid is None and phone is None:
        raise ApiError(400, "bad_data", "id or phone is required")
    with call.state.lock:
        store = call.world.contacts
        if cid is not None:
            if isinstance(cid, bool) or not isinstance(cid, int):
                raise ApiError(400, "bad_data", "id must be an integer")
            idx = index_of(store, cid)
        elif isinstance(phone, str):
            idx = index_of_phone(store, phone.lstrip("+"))
        else:
            raise ApiError(400, "bad_data", "phone must be a string")
        fraction = call.config["status_missing"]
        if idx is None or missing(store.seed, store.ids[idx], fraction):
            raise ApiError(404, "not_found", "contact not found")
        return answer(store, idx)


ROUTES = (Route("POST", "/v1/contact/status", contact_status),)
