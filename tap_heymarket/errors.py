"""Error types and the one-line messages a data engineer sees when something fails."""

from __future__ import annotations

import typing as t

from singer_sdk.exceptions import FatalAPIError, RetriableAPIError

if t.TYPE_CHECKING:
    import requests

#: What each fatal status most likely means, naming the settings to check.
_HINTS: dict[int, str] = {
    400: "the API rejected the request body as bad_data; this is not retried",
    401: "the credentials were rejected; check api_secret_id/api_secret_key (or api_key)",
    403: "access denied for this team or key; check the key's permissions",
    404: "unknown endpoint; check api_url",
}


def request_id(response: requests.Response | None) -> str:
    """Return the response's X-Request-Id, which Heymarket support asks for."""
    if response is None:
        return "none"
    return response.headers.get("X-Request-Id") or "none"


def describe_request(request: requests.PreparedRequest | None) -> str:
    """`POST /v1/contacts` — method and path only: never the headers or the body."""
    method = request.method if request is not None and request.method else "?"
    path = request.path_url if request is not None and request.path_url else "?"
    return f"{method} {path}"


def _server_message(response: requests.Response) -> str:
    """A short, safe summary of the error body (at most 200 characters)."""
    try:
        body = response.json()
    except ValueError:
        text = response.text.strip().replace("\n", " ")
        return text[:200]
    if isinstance(body, dict):
        parts = [str(body[k]) for k in ("error", "message") if body.get(k)]
        return ": ".join(parts)[:200]
    return str(body)[:200]


def status_message(response: requests.Response) -> str:
    """One line naming the request, the status, the X-Request-Id and a hint."""
    status = response.status_code
    reason = f" {response.reason}" if response.reason else ""
    line = (
        f"{describe_request(response.request)} failed with HTTP {status}{reason}"
        f" (X-Request-Id: {request_id(response)})"
    )
    server = _server_message(response)
    if server:
        line += f": {server}"
    hint = _HINTS.get(status)
    if hint:
        line += f" - {hint}"
    return line


class HeymarketFatalError(FatalAPIError):
    """A request failed in a way that retrying cannot fix."""


class HeymarketRetriableError(RetriableAPIError):
    """A request failed in a way that a later retry may fix (429, 5xx, bad body)."""


class MalformedResponseError(HeymarketRetriableError):
    """The body was not the JSON shape the endpoint documents (retried, then fatal)."""
