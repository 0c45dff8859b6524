"""The API's resources, one module each (data generation + endpoint handlers), and the one
route table the server dispatches on."""

from __future__ import annotations

from . import (
    contact_fields,
    contact_status,
    contacts,
    conversations,
    inboxes,
    messages,
    surveys,
    tags,
    team,
    templates,
)
from .common import ApiError, Call, RawJson, Route, encode, parse_body

MODULES = (
    contacts,
    contact_fields,
    contact_status,
    tags,
    inboxes,
    team,
    templates,
    surveys,
    messages,
    conversations,
)

#: (method, path) -> Route
ROUTES: dict[tuple[str, str], Route] = {
    (r.method, r.path): r for module in MODULES for r in module.ROUTES
}
#: paths answered with a bare array (force_body=object wraps these)
LIST_PATHS = frozenset(r.path for r in ROUTES.values() if r.is_list)

__all__ = ["LIST_PATHS", "ROUTES", "ApiError", "Call", "RawJson", "Route", "encode", "parse_body"]
