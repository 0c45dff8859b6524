"""Error types and the one-line messages a data engineer sees when something fails."""

from __future__ import annotations

import socket
import ssl
import typing as t
from urllib.parse import urlsplit

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


#: How a connection failed, from the exception chain requests raises.
UNRESOLVED = "does not resolve"
REFUSED = "refused the connection"
UNVERIFIED = "presented a TLS certificate that does not verify"


def connection_failure(exc: BaseException) -> str | None:
    """UNRESOLVED, REFUSED, UNVERIFIED, or None for any other failure (a reset, a timeout)."""
    seen: set[int] = set()
    stack: list[BaseException] = [exc]
    while stack:
        error = stack.pop()
        if id(error) in seen:
            continue
        seen.add(id(error))
        if isinstance(error, socket.gaierror):
            return UNRESOLVED
        if isinstance(error, ssl.SSLCertVerificationError):
            return UNVERIFIED
        if isinstance(error, ConnectionRefusedError):
            return REFUSED
        linked = [error.__cause__, error.__context__, getattr(error, "reason", None)]
        linked += [arg for arg in error.args if isinstance(arg, BaseException)]
        stack += [e for e in linked if isinstance(e, BaseException)]
    return None


def unreachable_message(api_url: str, failure: str) -> str:
    """`cannot reach the Heymarket API: api.heymarket.invalid does not resolve (api_url ...)`."""
    parts = urlsplit(api_url)
    host = parts.hostname or api_url
    where = f"{host}:{parts.port}" if parts.port and failure == REFUSED else host
    return (
        f"cannot reach the Heymarket API: {where} {failure} (api_url {api_url}); "
        "check the api_url setting"
    )


class HeymarketFatalError(FatalAPIError):
    """A request failed in a way that retrying cannot fix."""


class HeymarketRetriableError(RetriableAPIError):
    """A request failed in a way that a later retry may fix (429, 5xx, bad body)."""


class MalformedResponseError(HeymarketRetriableError):
    """The body was not the JSON shape the endpoint documents (retried, then fatal)."""
