"""The sandbox's contact status endpoint, and the requests a run made to it
(tests/sandbox/test_contact_status.py, tests/tap/test_contact_status.py)."""

from __future__ import annotations

from typing import Any

STATUS = "/v1/contact/status"


def status_requests(stats: dict[str, Any]) -> dict[str, int]:
    """HTTP status -> how many `POST /v1/contact/status` the sandbox's `stats()` counts."""
    return dict(stats["by_path"].get(STATUS, {}))
