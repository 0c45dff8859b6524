"""Heymarket API sandbox: a local, deliberately hard stand-in for api.heymarket.com.

    with Sandbox(contacts=500, seed=1, cursor="strict") as sb:
        requests.post(sb.url + "/v1/contacts", json={"limit": 100}, headers=sb.auth_headers())

This module only re-exports the public names; no module of the package imports it. The
layers and what each module holds: docs/sandbox.md, "Layout".
"""

from __future__ import annotations

from .auth import make_jwt
from .config import API_KEY, SECRET_ID, SECRET_KEY, SWITCHES
from .data.mutation import Mutation
from .harness import Sandbox
from .server import SandboxServer
from .shapes import SHAPE_CASES

__all__ = [
    "API_KEY",
    "SECRET_ID",
    "SECRET_KEY",
    "SHAPE_CASES",
    "SWITCHES",
    "Mutation",
    "Sandbox",
    "SandboxServer",
    "make_jwt",
]
