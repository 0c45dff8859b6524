"""Heymarket authentication: a per-request JWT (recommended) or the legacy API key.

The JWT is `HS256({"iss": <secret id>, "iat": <now>})` signed with the key
`"<secret id>||<secret key>"`. It expires 5 minutes after `iat`, so a fresh token is
minted for every request: signing costs microseconds, and a sync of any length (or a
request retried minutes later) never presents an expired token.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import typing as t

from requests.auth import AuthBase

if t.TYPE_CHECKING:
    from requests import PreparedRequest


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


_JWT_HEADER = _b64url(json.dumps({"alg": "HS256", "typ": "JWT"}, separators=(",", ":")).encode())


def mint_jwt(secret_id: str, secret_key: str, *, now: float | None = None) -> str:
    """Return a Heymarket JWT for `secret_id`, issued at `now` (unix seconds)."""
    issued_at = int(time.time() if now is None else now)
    payload = _b64url(
        json.dumps({"iss": secret_id, "iat": issued_at}, separators=(",", ":")).encode()
    )
    signing_input = f"{_JWT_HEADER}.{payload}".encode("ascii")
    key = f"{secret_id}||{secret_key}".encode()
    signature = _b64url(hmac.new(key, signing_input, hashlib.sha256).digest())
    return f"{_JWT_HEADER}.{payload}.{signature}"


class HeymarketJWTAuth(AuthBase):
    """Sign every request with a freshly minted JWT."""

    def __init__(self, secret_id: str, secret_key: str) -> None:
        self._secret_id = secret_id
        self._secret_key = secret_key

    def __call__(self, request: PreparedRequest) -> PreparedRequest:
        token = mint_jwt(self._secret_id, self._secret_key)
        request.headers["Authorization"] = f"Bearer {token}"
        return request

    def __repr__(self) -> str:  # never show secrets, even in a debugger or a log
        return "HeymarketJWTAuth(secret_id=***, secret_key=***)"


class HeymarketAPIKeyAuth(AuthBase):
    """The legacy team API key, sent as a bearer token (planned for deprecation)."""

    def __init__(self, api_key: str) -> None:
        self._api_key = api_key

    def __call__(self, request: PreparedRequest) -> PreparedRequest:
        request.headers["Authorization"] = f"Bearer {self._api_key}"
        return request

    def __repr__(self) -> str:
        return "HeymarketAPIKeyAuth(api_key=***)"


def authenticator_from_config(config: t.Mapping[str, t.Any]) -> AuthBase:
    """Pick the auth method the (already validated) config names."""
    if config.get("api_secret_id"):
        return HeymarketJWTAuth(config["api_secret_id"], config["api_secret_key"])
    return HeymarketAPIKeyAuth(config["api_key"])
