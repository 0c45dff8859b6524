"""The one route table the server dispatches on: every handler module's ROUTES, by
(method, path), and the paths answered with a bare array (docs/sandbox.md, "Layout")."""

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
from .request import Route

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
