"""Heymarket credentials: HS256 JWTs {iss, iat} and the legacy bearer API key."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import time
from typing import Any

from .config import SECRET_ID, SECRET_KEY


def _b64url_decode(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def make_jwt(
    secret_id: str = SECRET_ID, secret_key: str = SECRET_KEY, iat: float | None = None
) -> str:
    """A Heymarket JWT: HS256, {iss, iat}, key '<secret id>||<secret key>'."""

    def enc(obj: dict[str, Any]) -> str:
        raw = json.dumps(obj, separators=(",", ":")).encode()
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    head = enc({"alg": "HS256", "typ": "JWT"})
    body = enc({"iss": secret_id, "iat": int(time.time() if iat is None else iat)})
    sig = hmac.new(
        f"{secret_id}||{secret_key}".encode(), f"{head}.{body}".encode(), hashlib.sha256
    ).digest()
    return f"{head}.{body}.{base64.urlsafe_b64encode(sig).rstrip(b'=').decode()}"


def check_auth(c: dict[str, Any], header: str | None) -> str | None:
    """None if `header` authorizes under config `c`, else a reason (never the token)."""
    if not header:
        return "missing Authorization header"
    scheme, _, token = header.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        return "Authorization must be 'Bearer <token>'"
    if c["api_key"] and hmac.compare_digest(token.encode(), c["api_key"].encode()):
        return None
    parts = token.split(".")
    if len(parts) != 3:
        return "invalid API key or malformed JWT"
    try:
        head = json.loads(_b64url_decode(parts[0]))
        payload = json.loads(_b64url_decode(parts[1]))
    except (ValueError, binascii.Error, UnicodeDecodeError):
        return "malformed JWT"
    if not isinstance(head, dict) or not isinstance(payload, dict):
        return "malformed JWT"
    if head.get("alg") != "HS256":
        return "JWT alg must be HS256"
    iss, iat = payload.get("iss"), payload.get("iat")
    if not isinstance(iss, str) or iss != c["secret_id"]:
        return "unknown JWT issuer"
    if isinstance(iat, bool) or not isinstance(iat, (int, float)):
        return "JWT iat missing or not a number"
    key = f"{c['secret_id']}||{c['secret_key']}".encode()
    sig = hmac.new(key, f"{parts[0]}.{parts[1]}".encode(), hashlib.sha256).digest()
    expected = base64.urlsafe_b64encode(sig).rstrip(b"=")
    if not hmac.compare_digest(expected, parts[2].rstrip("=").encode()):
        return "JWT signature mismatch"
    now = time.time() + c["clock_offset"]
    if now - iat > c["jwt_ttl"]:
        return "JWT expired"
    if iat - now > 60:
        return "JWT iat is in the future"
    return None
